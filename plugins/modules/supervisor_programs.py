#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of supervisor programs kept as described and running what they must run, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: supervisor_programs
short_description: Keep a set of supervisor programs written, running, and restarted onto what they must run
description:
  - Writes one program file per program under O(conf_dir) (only where its text changed), removes the files of
    the programs named in O(absent), and has supervisor apply them (C(supervisorctl update) for those programs
    only, which restarts a program whose file changed and removes a program whose file is gone).
  - A program keeps a record of what it started with (O(started_with), for example the live release and the
    fingerprint of the environment file) under O(record_dir). A running program whose record differs is
    restarted (C(supervisorctl restart), that is supervisor's stop signal, for Celery a warm shutdown that
    finishes the tasks it holds, then a start), so a program never runs an older release than the one named.
  - Every program is then started if it is not running, and must be C(RUNNING) at the end; the module fails
    naming the programs that are not, with the end of their log.
  - Programs that need a restart or a start are restarted or started side by side, so the longest stop (a worker
    finishing its task) sets the wait, not their sum.
  - The celery role calls it once for every worker program of a host, where it used to take about ten tasks.
version_added: 0.3.0
options:
  programs:
    description:
      - The programs to keep, each its name and the full text of its file (with its C([program:NAME]) section).
    type: dict
    required: true
  absent:
    description:
      - Programs to remove where their file exists (stopped and forgotten by supervisor).
    type: list
    elements: str
    default: []
  started_with:
    description:
      - What every program must have started with; a running program started with something else is restarted.
      - Give it, or O(started_from) to have the module read it on the host.
    type: str
  started_from:
    description:
      - Paths whose state is what every program must have started with, read on the host instead of
        O(started_with) - a symlink by where it points, a file by its SHA-1, a missing path as nothing - joined
        by spaces.
    type: list
    elements: path
  requires:
    description:
      - Paths that must exist, each with what to tell the user when it does not. The module checks them first
        and fails before it changes anything.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The path that must exist.
        type: path
        required: true
      msg:
        description: What to do about it, said after "PATH does not exist:".
        type: str
        required: true
  conf_dir:
    description: Where supervisor reads program files (C(NAME.conf)).
    type: path
    default: /etc/supervisor/conf.d
  record_dir:
    description: Where the module records what each program started with (C(NAME.release)).
    type: path
    required: true
  log_dir:
    description: Where the programs' logs are (C(NAME.log)), whose end a failure shows.
    type: path
    default: /var/log/supervisor
  start_timeout:
    description:
      - Seconds to wait for programs that supervisor is still starting (its C(startsecs)) or retrying to reach
        C(RUNNING).
    type: int
    default: 60
notes:
  - Supports check mode (it reports what it would write, restart and start) and diff mode (the program files).
author:
  - pyops.webstack developers (@pyops-webstack)
"""

EXAMPLES = r"""
- name: Keep the Celery workers written and running the live release
  pyops.webstack.supervisor_programs:
    programs:
      shop-celery-default: "{{ lookup('ansible.builtin.template', 'celery-worker.conf.j2') }}"
    absent: [shop-celery-beat]
    started_from: [/srv/shop/current, /srv/shop/shared/env]
    requires:
      - path: /srv/shop/current/.venv/bin/celery
        msg: "the live release has no Celery: add it to the app's requirements."
    record_dir: /srv/shop/run
"""

RETURN = r"""
written:
  description: The programs whose file was written (created or changed).
  returned: always
  type: list
  elements: str
removed:
  description: The programs whose file was removed.
  returned: always
  type: list
  elements: str
restarted:
  description: The programs restarted because they had started with something else than O(started_with).
  returned: always
  type: list
  elements: str
started:
  description: The programs that were not running and were started.
  returned: always
  type: list
  elements: str
started_with:
  description: What every program must have started with (as given, or as read from O(started_from)).
  returned: always
  type: str
  sample: "releases/20261202T120000Z-abc1234 3f2a..."
states:
  description: Each kept program's supervisor state after the call (before it, in check mode).
  returned: always
  type: dict
  sample: {"shop-celery-default": "RUNNING"}
"""

import hashlib
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

SETTLING = ("STARTING", "BACKOFF", "STOPPING")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def read_text(path):
    """The text of a file, or None when there is none."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_text(path, text, mode=0o644):
    """Replace a file at once (a reader sees the old text or the new, never half of it)."""
    folder = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".webstack-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def parse_status(output):
    """Program name -> state from `supervisorctl status` output."""
    states = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) > 1:
            states[fields[0]] = fields[1]
    return states


def state_of(path):
    """A symlink's target, a file's SHA-1, or nothing (as the stat module reads them)."""
    if os.path.islink(path):
        return os.readlink(path)
    try:
        with open(path, "rb") as handle:
            return hashlib.sha1(handle.read()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return ""


def log_tail(path, lines=20):
    text = read_text(path) or ""
    return "\n".join(text.splitlines()[-lines:])


class Programs:
    def __init__(self, module):
        self.module = module
        params = module.params
        self.programs = params["programs"]
        self.absent = [name for name in params["absent"] if name not in self.programs]
        for required in params["requires"]:
            if not os.path.exists(required["path"]):
                module.fail_json(msg=f"{required['path']} does not exist: {required['msg']}")
        self.started_with = (params["started_with"] if params["started_from"] is None
                             else " ".join(state_of(path) for path in params["started_from"])).strip()
        self.conf_dir = params["conf_dir"]
        self.record_dir = params["record_dir"]
        self.log_dir = params["log_dir"]
        self.start_timeout = params["start_timeout"]
        for name in list(self.programs) + self.absent:
            if not NAME.match(name):
                module.fail_json(msg=f"supervisor program name {name!r}: letters, digits, '.', '_' and '-' only")
        for name, text in self.programs.items():
            if f"[program:{name}]" not in text:
                module.fail_json(msg=f"the text of program {name} has no [program:{name}] section")

    def conf(self, name):
        return os.path.join(self.conf_dir, f"{name}.conf")

    def record(self, name):
        return os.path.join(self.record_dir, f"{name}.release")

    def supervisorctl(self, *args, ok=(0,)):
        return self.checked(args, self.module.run_command(["supervisorctl", *args]), ok)

    def checked(self, args, answer, ok):
        """The output of a supervisorctl call, after failing the module on an exit code not in `ok`."""
        rc, out, err = answer
        if rc not in ok:
            self.module.fail_json(msg=f"supervisorctl {' '.join(args)} failed (rc {rc}): {(out + err).strip()}")
        return out

    def side_by_side(self, action, names):
        """supervisorctl ACTION for each program at once, one call each (supervisorctl waits for one program at a
        time: its stop for up to stopwaitsecs, its start for startsecs)."""
        if not names:
            return
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            answers = list(pool.map(lambda name: self.module.run_command(["supervisorctl", action, name]), names))
        for name, answer in zip(names, answers):
            # 1 and 7: the program would not start, reported with its log afterwards.
            self.checked((action, name), answer, ok=(0, 1, 7))

    def status(self, names):
        # Exit 3 when one is not running, 4 when supervisor does not know one: the states say which.
        return parse_status(self.supervisorctl("status", *names, ok=(0, 3, 4)))

    def settle(self, names):
        """The programs' states once none is still starting (or backing off), or at the start timeout."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            states = self.status(names)
            if time.monotonic() > deadline or not any(states.get(name) in SETTLING for name in names):
                return states
            time.sleep(0.5)

    def run(self):
        names = list(self.programs)
        diff = {"before": "", "after": ""}
        written = []
        for name, text in self.programs.items():
            before = read_text(self.conf(name))
            if before != text:
                written.append(name)
                diff["before"] += f"# {self.conf(name)}\n{before or ''}"
                diff["after"] += f"# {self.conf(name)}\n{text}"
        removed = [name for name in self.absent if os.path.exists(self.conf(name))]
        for name in removed:
            diff["before"] += f"# {self.conf(name)}\n{read_text(self.conf(name))}"
        recorded = {name: (read_text(self.record(name)) or "").strip() for name in names}
        states = self.status(names)
        stale = [name for name in names if name not in written and recorded[name] != self.started_with]
        restart = [name for name in stale if states.get(name) == "RUNNING"]
        if self.module.check_mode:
            start = [name for name in names if name in written or states.get(name) != "RUNNING"]
            self.exit(written, removed, restart, start, states, diff, bool(written or removed or stale))

        for name in written:
            write_text(self.conf(name), self.programs[name])
        for name in removed:
            os.unlink(self.conf(name))
        if written or removed:
            self.supervisorctl("update", *(written + removed))
        # stop, then start: a worker finishes what it holds first (its stopsignal, for up to stopwaitsecs). The
        # programs restart side by side, so the longest task held sets the wait, not their sum. A start that fails
        # is reported below, with the program's log.
        self.side_by_side("restart", restart)
        states = self.settle(names)
        start = [name for name in names if states.get(name) != "RUNNING"]
        self.side_by_side("start", start)
        states = self.settle(names) if start else states
        broken = [name for name in names if states.get(name) != "RUNNING"]
        if broken:
            logs = "\n".join(f"--- {name} ({states.get(name) or 'unknown'}):\n"
                             f"{log_tail(os.path.join(self.log_dir, name + '.log'))}" for name in broken)
            self.module.fail_json(msg=f"supervisor programs not running: {', '.join(broken)}\n{logs}",
                                  written=written, removed=removed, restarted=restart, started=start,
                                  states=states)
        for name in names:
            if recorded[name] != self.started_with:
                write_text(self.record(name), self.started_with + "\n")
        changed = bool(written or removed or restart or start or stale)
        self.exit(written, removed, restart, start, states, diff, changed)

    def exit(self, written, removed, restarted, started, states, diff, changed):
        result = {"changed": changed, "written": written, "removed": removed, "restarted": restarted,
                  "started": started, "states": states, "started_with": self.started_with}
        if self.module._diff:
            result["diff"] = diff
        self.module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec={
            "programs": {"type": "dict", "required": True},
            "absent": {"type": "list", "elements": "str", "default": []},
            "started_with": {"type": "str"},
            "started_from": {"type": "list", "elements": "path"},
            "requires": {"type": "list", "elements": "dict", "default": [],
                         "options": {"path": {"type": "path", "required": True},
                                     "msg": {"type": "str", "required": True}}},
            "conf_dir": {"type": "path", "default": "/etc/supervisor/conf.d"},
            "record_dir": {"type": "path", "required": True},
            "log_dir": {"type": "path", "default": "/var/log/supervisor"},
            "start_timeout": {"type": "int", "default": 60},
        },
        required_one_of=[("started_with", "started_from")],
        mutually_exclusive=[("started_with", "started_from")],
        supports_check_mode=True,
    )
    Programs(module).run()


if __name__ == "__main__":
    main()
