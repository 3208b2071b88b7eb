#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many small system files, settings lines, modes and removals put in place in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: system_files
short_description: Put many small system files, settings lines and modes in place in one call
description:
  - Makes folders, writes whole files, sets one line in files other packages own (as
    M(ansible.builtin.lineinfile) does), sets the owner, group and mode of paths that exist, and removes files,
    all in one call and in that order.
  - Every entry is checked before anything changes; a file to edit that is missing, or a regular expression that
    does not compile, stops the call with nothing changed.
  - A whole file is written to a temporary file next to it and moved into place, so a reader never sees half of
    it. Content that is already there is not written again.
  - The roles of this collection use it where they had a task for each small file; each task costs a second run
    about half a second a host, this call about the same for all of them together.
version_added: 0.1.0
options:
  directories:
    description: Folders to make, or whose owner, group and mode to set.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The folder's absolute path.
        type: path
        required: true
      owner:
        description: Its owner.
        type: str
        default: root
      group:
        description: Its group.
        type: str
        default: root
      mode:
        description: Its mode, octal as a string (C("0755")) or symbolic (C(o-rwx)).
        type: str
        required: true
  files:
    description: Files whose whole content is given.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file's absolute path; its folder must exist.
        type: path
        required: true
      content:
        description: The whole content.
        type: str
        required: true
      owner:
        description: Its owner.
        type: str
        default: root
      group:
        description: Its group.
        type: str
        default: root
      mode:
        description: Its mode, octal as a string or symbolic.
        type: str
        required: true
  lines:
    description:
      - One line each in a file that must exist. The last line that O(lines[].regexp) finds is replaced by
        O(lines[].line); when none is found and the line is not there yet, it is added at the end.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file's absolute path.
        type: path
        required: true
      regexp:
        description: A Python regular expression searched in each line.
        type: str
        required: true
      line:
        description: The whole line, without its newline.
        type: str
        required: true
  modes:
    description:
      - The owner, group or mode of paths that exist. A path may be a shell pattern (C(/home/*)); a path or
        pattern that matches nothing is not an error.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: An absolute path or pattern.
        type: str
        required: true
      owner:
        description: The owner to set; left as it is when not given.
        type: str
      group:
        description: The group to set; left as it is when not given.
        type: str
      mode:
        description: The mode to set, octal as a string or symbolic; left as it is when not given.
        type: str
  absent:
    description: Files or links to remove. A folder is refused.
    type: list
    elements: path
    default: []
notes:
  - Supports check mode and diff mode (one diff a path that changes).
author:
  - pyops.webstack developers (@pyops-webstack)
"""

EXAMPLES = r"""
- name: Keep core dumps off and cron's files to root
  pyops.webstack.system_files:
    directories:
      - {path: /etc/systemd/coredump.conf.d, mode: "0755"}
    files:
      - path: /etc/systemd/coredump.conf.d/50-local.conf
        content: "[Coredump]\nStorage=none\n"
        mode: "0644"
    lines:
      - {path: /etc/login.defs, regexp: '^#?\s*UMASK\s', line: "UMASK\t027"}
    modes:
      - {path: /etc/crontab, owner: root, group: root, mode: "0600"}
      - {path: "/home/*", mode: o-rwx}
    absent: [/etc/ssh/ssh_host_dsa_key]
"""

RETURN = r"""
changed_paths:
  description: The paths that changed (or would, in check mode), each once, in the order they were done.
  returned: always
  type: list
  elements: str
  sample: ["/etc/login.defs", "/home/alice"]
"""

import glob
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

OWNED = {"owner": {"type": "str", "default": "root"}, "group": {"type": "str", "default": "root"}}
ARGUMENT_SPEC = {
    "directories": {"type": "list", "elements": "dict", "default": [], "options": {
        "path": {"type": "path", "required": True}, "mode": {"type": "str", "required": True}, **OWNED}},
    "files": {"type": "list", "elements": "dict", "default": [], "options": {
        "path": {"type": "path", "required": True}, "content": {"type": "str", "required": True},
        "mode": {"type": "str", "required": True}, **OWNED}},
    "lines": {"type": "list", "elements": "dict", "default": [], "options": {
        "path": {"type": "path", "required": True}, "regexp": {"type": "str", "required": True},
        "line": {"type": "str", "required": True}}},
    "modes": {"type": "list", "elements": "dict", "default": [], "options": {
        "path": {"type": "str", "required": True}, "owner": {"type": "str"}, "group": {"type": "str"},
        "mode": {"type": "str"}}},
    "absent": {"type": "list", "elements": "path", "default": []},
}


def problems(params):
    """What in the entries cannot be done, found before anything changes."""
    found = []
    for section in ("directories", "files", "lines", "modes", "absent"):
        for entry in params[section]:
            path = entry if section == "absent" else entry["path"]
            if not os.path.isabs(path):
                found.append(f"{section}: {path} is not an absolute path")
    for entry in params["directories"]:
        if os.path.lexists(entry["path"]) and not os.path.isdir(entry["path"]):
            found.append(f"directories: {entry['path']} exists and is not a folder")
    made = {entry["path"] for entry in params["directories"]}
    for entry in params["files"]:
        folder = os.path.dirname(entry["path"])
        if folder not in made and not os.path.isdir(folder):
            found.append(f"files: the folder of {entry['path']} does not exist")
    for entry in params["lines"]:
        if not os.path.isfile(entry["path"]):
            found.append(f"lines: {entry['path']} does not exist (the package that owns it is not installed?)")
        try:
            re.compile(entry["regexp"])
        except re.error as error:
            found.append(f"lines: the regexp {entry['regexp']!r} for {entry['path']} does not compile: {error}")
        if "\n" in entry["line"]:
            found.append(f"lines: the line for {entry['path']} has a newline in it")
    for path in params["absent"]:
        if os.path.isdir(path) and not os.path.islink(path):
            found.append(f"absent: {path} is a folder (only files and links are removed)")
    return found


def with_line(text, regexp, line):
    """The text with its last line that `regexp` finds replaced by `line`, or `line` added at the end when no line
    is found and `line` is not there yet (as lineinfile does)."""
    lines = text.splitlines(keepends=True)
    pattern = re.compile(regexp)
    found = [index for index, current in enumerate(lines) if pattern.search(current.rstrip("\r\n"))]
    if found:
        index = found[-1]
        ending = lines[index][len(lines[index].rstrip("\r\n")):] or "\n"
        lines[index] = line + ending
    elif line not in (current.rstrip("\r\n") for current in lines):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(line + "\n")
    return "".join(lines)


def read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


class Files:
    """The changes, made (or only found, in check mode) one entry at a time."""

    def __init__(self, module):
        self.module = module
        self.changed_paths = []
        self.diffs = []

    def note(self, path, before=None, after=None):
        if path not in self.changed_paths:
            self.changed_paths.append(path)
        if before is not None or after is not None:
            self.diffs.append({"before_header": path, "after_header": path, "before": before or "",
                               "after": after or ""})

    def attributes(self, path, owner=None, group=None, mode=None):
        """Set what is given of owner, group and mode (in check mode, a path not made yet was noted already)."""
        if self.module.check_mode and not os.path.lexists(path):
            return
        diff = {"before": {}, "after": {}}
        changed = False
        if owner is not None:
            changed = self.module.set_owner_if_different(path, owner, changed, diff)
        if group is not None:
            changed = self.module.set_group_if_different(path, group, changed, diff)
        if mode is not None:
            changed = self.module.set_mode_if_different(path, mode, changed, diff)
        if changed:
            self.note(path, "".join(f"{key}: {value}\n" for key, value in sorted(diff["before"].items())),
                      "".join(f"{key}: {value}\n" for key, value in sorted(diff["after"].items())))

    def directory(self, entry):
        path = entry["path"]
        if not os.path.isdir(path):
            self.note(path, "(absent)\n", "(folder)\n")
            if not self.module.check_mode:
                os.makedirs(path)
        self.attributes(path, entry["owner"], entry["group"], entry["mode"])

    def file(self, entry):
        path, content = entry["path"], to_bytes(entry["content"])
        before = read(path)
        if before != content:
            self.note(path, to_text(before) if before is not None else "", to_text(content))
            if not self.module.check_mode:
                self.write(path, content)
        self.attributes(path, entry["owner"], entry["group"], entry["mode"])

    def write(self, path, content):
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".pyops-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
        except Exception:
            os.unlink(temporary)
            raise
        self.module.atomic_move(temporary, path)

    def line(self, entry):
        path = entry["path"]
        before = to_text(read(path))
        after = with_line(before, entry["regexp"], entry["line"])
        if after != before:
            self.note(path, before, after)
            if not self.module.check_mode:
                self.write(path, to_bytes(after))

    def modes(self, entry):
        for path in sorted(glob.glob(entry["path"])):
            self.attributes(path, entry["owner"], entry["group"], entry["mode"])

    def remove(self, path):
        if os.path.lexists(path):
            self.note(path, "(present)\n", "(absent)\n")
            if not self.module.check_mode:
                os.unlink(path)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    found = problems(params)
    if found:
        module.fail_json(msg="system_files changed nothing: " + "; ".join(found), changed_paths=[])
    files = Files(module)
    for entry in params["directories"]:
        files.directory(entry)
    for entry in params["files"]:
        files.file(entry)
    for entry in params["lines"]:
        files.line(entry)
    for entry in params["modes"]:
        files.modes(entry)
    for path in params["absent"]:
        files.remove(path)
    result = {"changed": bool(files.changed_paths), "changed_paths": files.changed_paths}
    if module._diff:
        result["diff"] = files.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
