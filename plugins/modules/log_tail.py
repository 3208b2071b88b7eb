#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The newest lines of a host's log files, for the logs playbook."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: log_tail
short_description: Read the newest lines of log files, or those since a time, with an optional pattern
description:
  - Reads, in one call, the newest lines of each log file that the patterns in O(paths) match, the way
    C(heroku logs) or C(kamal app logs) answer (the last O(lines), or every line written since O(since)), keeping
    only those that match O(grep) when it is given.
  - A line's time is read from its start in the formats of the logs of the estate (ISO 8601 as gunicorn, uWSGI,
    Celery and supervisor write it; nginx's error log; the common log format of the access logs; Apache's error
    log). A line without a time (a traceback's) has the time of the line before it, so a traceback comes with
    the line that starts it.
  - Only the files as they are now are read, not the rotated ones (C(.1), C(.gz)).
  - It changes nothing.
version_added: 0.1.0
options:
  paths:
    description: The log files, as shell patterns (C(/var/log/nginx/*.log)); a pattern that matches nothing is
      left out.
    type: list
    elements: str
    required: true
  lines:
    description: The most lines kept of each file (the newest).
    type: int
    default: 50
  since:
    description:
      - Keep the lines written since then; empty keeps the last O(lines) whatever their age.
      - A time ago (C(90s), C(15m), C(2h), C(1d)) or a time in UTC (C(2026-12-05T21:00), C(2026-12-05 21:00:30)),
        or with its offset (C(2026-12-05T21:00:00+01:00)).
    type: str
    default: ""
  grep:
    description: A Python regular expression; only the lines where it matches are kept. Empty keeps every line.
    type: str
    default: ""
author:
  - pyops.webstack developers (@pyops-webstack)
"""

EXAMPLES = r"""
- name: Read the last 100 lines of nginx's logs that name /login
  pyops.webstack.log_tail:
    paths: [/var/log/nginx/access.log, /var/log/nginx/error.log]
    lines: 100
    grep: /login
  register: logs

- name: Read what the app server wrote in the last quarter of an hour
  pyops.webstack.log_tail:
    paths: [/var/log/supervisor/webapp-*.log]
    since: 15m
    lines: 1000
"""

RETURN = r"""
files:
  description: Each file read (the one written last comes last), with the lines kept (oldest first) and whether
    older lines would have been kept but for O(lines).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/var/log/nginx/access.log", "lines": ["127.0.0.1 - - [05/Dec/2026:21:10:00 +0000] ..."],
            "more": false}]
since:
  description: The time from which lines were kept, in UTC (empty without O(since)).
  returned: always
  type: str
  sample: "2026-12-05T21:00:00Z"
"""

import datetime
import glob
import os
import re

from ansible.module_utils.basic import AnsibleModule

UTC = datetime.timezone.utc
MONTHS = {name: number for number, name in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}
AGO = re.compile(r"^(\d+)\s*(s|m|h|d)$")
AGO_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Where a line's time is: near its start (after an address and "- -" in the common log format).
HEAD = 120
STAMPS = [
    # ISO 8601: gunicorn "[2026-12-05 21:10:00 +0000]", Celery "[2026-12-05 21:10:00,123: INFO/...]",
    # supervisor "2026-12-05 21:10:00,123", uWSGI's logdate.
    (re.compile(r"(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[ T](?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)(?:[.,]\d+)?"
                r"(?: ?(?P<tz>Z|[+-]\d\d:?\d\d))?"), False),
    # nginx's error log: "2026/12/05 21:10:00 [error]", in the host's time.
    (re.compile(r"(?P<y>\d{4})/(?P<mo>\d\d)/(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"), False),
    # Common log format: "[05/Dec/2026:21:10:00 +0000]".
    (re.compile(r"(?P<d>\d\d)/(?P<mo>[A-Z][a-z]{2})/(?P<y>\d{4}):(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
                r"(?: (?P<tz>[+-]\d{4}))?"), True),
    # Apache's error log "[Sat Dec 05 21:10:00.123456 2026]", uWSGI's "[Sat Dec  5 21:10:00 2026]": the host's time.
    (re.compile(r"[A-Z][a-z]{2} (?P<mo>[A-Z][a-z]{2}) (?P<d>[ \d]?\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)(?:\.\d+)?"
                r" (?P<y>\d{4})"), True),
]
LONGEST_LINE = 4000
BLOCK = 65536


def parse_since(text, now):
    """The UTC time that `since` names, None when it is empty; ValueError names what is wrong."""
    text = text.strip()
    if not text:
        return None
    ago = AGO.match(text)
    if ago:
        return now - datetime.timedelta(seconds=int(ago.group(1)) * AGO_SECONDS[ago.group(2)])
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"since is {text!r}: give a time ago (90s, 15m, 2h, 1d) or a time in UTC "
                         "(2026-12-05T21:00, 2026-12-05 21:00:30)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def line_time(line):
    """The UTC time at a line's start, None when it has none. Times without an offset are the host's."""
    head = line[:HEAD]
    # The first time in the line, whatever its format (a path or a message further on may hold another).
    matches = [(match, month_name) for pattern, month_name in STAMPS for match in [pattern.search(head)] if match]
    for match, month_name in sorted(matches, key=lambda pair: pair[0].start()):
        parts = match.groupdict()
        month = MONTHS.get(parts["mo"]) if month_name else int(parts["mo"])
        if not month:
            continue
        try:
            when = datetime.datetime(int(parts["y"]), month, int(parts["d"]), int(parts["h"]), int(parts["mi"]),
                                     int(parts["s"]))
        except ValueError:
            continue
        offset = parts.get("tz")
        if not offset:
            return when.astimezone(UTC)  # a naive time is the host's local time
        if offset == "Z":
            return when.replace(tzinfo=UTC)
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return (when - sign * delta).replace(tzinfo=UTC)
    return None


def lines_backwards(handle):
    """A file's lines, last first, read from its end a block at a time."""
    handle.seek(0, os.SEEK_END)
    position, rest = handle.tell(), b""
    while position > 0:
        size = min(BLOCK, position)
        position -= size
        handle.seek(position)
        block = handle.read(size) + rest
        lines = block.split(b"\n")
        rest = lines.pop(0)
        yield from reversed(lines)
    yield rest


def tail(path, lines, since, grep):
    """The newest lines of one file that match (oldest first), and whether an older one matched too."""
    kept, untimed = [], []
    if since is not None and datetime.datetime.fromtimestamp(os.stat(path).st_mtime, UTC) < since:
        return kept, False  # not written since

    def room(group):
        """Keep a group of lines (last first); False once a matching line finds no room left."""
        for text in group:
            if grep and not grep.search(text):
                continue
            if len(kept) == lines:
                return False
            kept.append(text)
        return True

    more = False
    with open(path, "rb") as handle:
        for number, raw in enumerate(lines_backwards(handle)):
            if number == 0 and raw == b"":
                continue  # after the newline that ends the file
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if len(text) > LONGEST_LINE:
                text = text[:LONGEST_LINE] + " [...]"
            when = line_time(text) if since is not None else None
            if since is not None and when is None:
                untimed.append(text)  # goes with the next timed line up (a traceback with its first line)
                continue
            if since is not None and when < since:
                untimed = []
                break
            group, untimed = untimed + [text], []  # last first: the lines a timed line starts come before it
            if not room(group):
                more = True
                break
        more = more or not room(untimed)  # the file's first lines, before any time: written since, as the file was
    kept.reverse()
    return kept, more


def main():
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "str", "required": True},
            "lines": {"type": "int", "default": 50},
            "since": {"type": "str", "default": ""},
            "grep": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["lines"] < 1:
        module.fail_json(msg=f"lines is {params['lines']}: give a positive whole number of lines")
    try:
        since = parse_since(params["since"], datetime.datetime.now(UTC))
    except ValueError as error:
        module.fail_json(msg=str(error))
    try:
        grep = re.compile(params["grep"]) if params["grep"] else None
    except re.error as error:
        module.fail_json(msg=f"grep is {params['grep']!r}, not a regular expression: {error}")
    paths = sorted({path for pattern in params["paths"] for path in glob.glob(pattern) if os.path.isfile(path)},
                   key=lambda path: (os.stat(path).st_mtime, path))
    files = []
    for path in paths:
        try:
            kept, more = tail(path, params["lines"], since, grep)
        except OSError as error:
            module.fail_json(msg=f"cannot read {path}: {error.strerror}")
        files.append({"path": path, "lines": kept, "more": more})
    module.exit_json(changed=False, files=files,
                     since=since.replace(tzinfo=None).isoformat() + "Z" if since else "")


if __name__ == "__main__":
    main()
