#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release engine of the python_app role: build a release, then switch to it blue/green, in two calls."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: app_release
short_description: Build a release of a Python web app and switch to it blue/green, health-gated
description:
  - The release state machine of the M(pyops.webstack.python_app) role, in one step per state instead of sixty
    tasks. Each call takes the app's deploy lock (a folder, C(deploy.lock), with its owner in it) and gives it
    back when it ends, failed or not.
  - O(state=built) first lays out the app root (its folders with their owners and modes, the shared paths, the
    helpers of C(bin/), the environment file and the start of C(history.tsv)), then mirrors and fetches the
    app's repository, resolves O(version) to a commit, and builds a release of it (C(git archive), a virtualenv
    with uv or pip, the shared paths linked in, C(.webstack-release) describing it, the app's tests run in it)
    unless the live release or an earlier built one already is that commit with the same packages. Nothing live
    changes.
  - O(state=live) switches to the release of O(version) (the one just built, an earlier built one, or the live
    one when only the app server's config or environment changed). On a host that serves the app it starts the
    release on the idle colour with its own copy of the server config, waits for its health path on the idle
    socket, swaps C(run/live.sock), C(current) and C(previous) in one rename each, checks the health path again
    through the live socket (and switches back if it fails), lets the old colour drain, then stops it and keeps
    it stopped (or leaves it running, with O(stop_old=false)). Last it marks the release ready, records the deploy
    in C(history.tsv) and prunes old releases. With nothing to switch, it stops an old colour still running.
  - A failed step leaves the previous release serving, marks a release that was never live C(failed), records
    the failure in the history and fails with the step's name and its output.
  - Commands run as O(user) (git, builds, tests), as O(run_user) (the release commands, the only ones that
    load the app's environment file) or as root (supervisor, the switch). The secret options are
    O(env_content) and O(files), which Ansible keeps out of the output; no other secret reaches the result unless
    a command prints it.
version_added: 0.1.0
options:
  state:
    description: V(built) builds and tests without switching; V(live) switches to the release (building none).
    type: str
    choices: [built, live]
    required: true
  name:
    description: The app's name; its supervisor programs are C(NAME-blue) and C(NAME-green).
    type: str
    required: true
  root:
    description: The app root that holds C(releases/), C(shared/), C(run/), C(bin/), C(repo.git) and C(current).
    type: path
    required: true
  repo:
    description: The git repository to mirror (O(state=built) only).
    type: str
    default: ""
  version:
    description: Branch, tag or commit to build or switch to.
    type: str
    required: true
  user:
    description: Owner of the code; git, the builds and the tests run as this user.
    type: str
    required: true
  group:
    description: Group of the code owner.
    type: str
    required: true
  run_user:
    description: User the app's processes run as.
    type: str
    required: true
  packages:
    description: Python packages every release virtualenv gets besides the app (its app server's, pinned).
    type: list
    elements: str
    default: []
  install:
    description:
      - What to install into the virtualenv, the requirements file, the project (C(pip install .)) or both;
        C(locked), the release's C(uv.lock) (C(uv sync --frozen --no-dev --no-editable), uv only).
      - C(auto) reads the release, first found wins, C(uv.lock) (locked), the requirements file (requirements),
        C(pyproject.toml) or C(setup.py) (project).
    type: str
    choices: [auto, locked, requirements, project, both]
    default: auto
  requirements_file:
    description: Requirements file, relative to the release.
    type: str
    default: requirements.txt
  python:
    description: Interpreter the virtualenvs are made from.
    type: path
    default: /usr/bin/python3
  check_python:
    description:
      - Build a release that names its Python (C(runtime.txt), as C(python-3.11.7), else C(.python-version), as
        C(3.11)) only when O(python) is that major and minor version; otherwise fail before the release folder is
        made, naming the Pythons found on the host. A different patch level is a warning.
    type: bool
    default: true
  uv:
    description: Path of uv to build with; empty builds with C(python -m venv) and pip.
    type: str
    default: ""
  build_env:
    description: Environment of the virtualenv builds (a CA bundle for pip, say).
    type: dict
    default: {}
  shared_paths:
    description: Paths of the release replaced by links into C(shared/).
    type: list
    elements: str
    default: []
  test_command:
    description: Shell command run in the new release before anything live changes; empty runs none.
    type: str
    default: ""
  deployer:
    description: Who deploys, for the lock's owner and the history.
    type: str
    default: unknown
  serve:
    description: Whether this host serves the app (blue/green colours under supervisor), or only runs workers.
    type: bool
    default: true
  server_config:
    description:
      - The app server's config that each colour copies when it starts (O(serve=true)).
      - It must exist outside check mode, or the module fails before it changes anything.
    type: path
  env_file:
    description:
      - The app's environment file; its checksum, that of C(<env_file>.local) when it exists (what the config
        playbook set on the host) and the server config's decide a restart.
    type: path
  program:
    description:
      - The supervisor program of a colour, as text with C(${slot}), C(${release}), C(${config}), C(${socket}),
        C(${autostart}) and C(${fingerprint}) to fill in (O(serve=true)).
    type: str
    default: ""
  program_dir:
    description: Where supervisor reads program files from.
    type: path
    default: /etc/supervisor/conf.d
  protocol:
    description: What the app server's socket speaks, for the health check.
    type: str
    choices: [http, uwsgi]
    default: http
  health_path:
    description: Path that answers 200 (or a status of O(health_statuses)) when the app is healthy.
    type: str
    default: /healthz
  health_statuses:
    description:
      - The statuses of O(health_path) that count as healthy. An app without a health route may be probed on C(/)
        with C([200, 302]) (its home page redirects to a login page), chosen by the inventory, never guessed.
    type: list
    elements: int
    default: [200]
  health_timeout:
    description: Seconds a new release may take to answer its health path on the idle colour.
    type: int
    default: 60
  stop_old:
    description:
      - With O(state=live), stop the old colour once it has drained. V(false) leaves it running the previous
        release, not served (a switch back to it then needs no start); the next O(state=live) call that has
        nothing to switch drains it and stops it. deploy.yml and rollback.yml switch the web hosts batch after
        batch this way, then stop every old colour at once.
    type: bool
    default: true
  drain_seconds:
    description:
      - After the switch, the longest wait for the connections already queued on the old colour's socket (it
        stops as soon as none is queued, read with C(ss); without C(ss) it waits this long). Then it stops
        gracefully, its workers finishing the requests they have.
    type: int
    default: 3
  release:
    description:
      - With O(state=live), the id of the release to switch to (a folder of C(releases/), built or ready), instead
        of the one built from O(version); the history then records that release's own version. deploy.yml's canary
        goes back this way, whatever O(version) the command line gave.
    type: str
    default: ""
  live_failed:
    description:
      - Why the live release failed after its switch, as found outside the module (a canary's watch). A switch
        away from it (O(state=live)) marks it C(failed) and records that in the history; C(previous) becomes the
        newest other good release (or none), so that neither a rollback nor the next deploy goes back to it.
    type: str
    default: ""
  notify_url:
    description:
      - A URL (a webhook) POSTed a JSON object once for each deploy this call ends on this host - C(deployed),
        C(switched) (back to a release that was live), C(restarted) (the live release with a new environment or
        config), C(switched back) (a release that failed after its switch, and the one serving again) and
        C(failed) (a deploy stopped, nothing live changed) - with the app, the host, the release, its version and
        commit, who deployed and why it failed. Empty calls nothing.
      - A webhook that fails or takes longer than O(notify_timeout) is a warning; it never fails the deploy. The URL
        (it may hold a token) is kept out of the output.
    type: str
    default: ""
  notify_timeout:
    description: Seconds to wait for the webhook's answer.
    type: int
    default: 5
  host_name:
    description: The host's name in the webhook's body (its inventory name); empty sends the host's own name.
    type: str
    default: ""
  keep_releases:
    description: How many good releases to keep (failed ones never count; live and previous are never removed).
    type: int
    default: 5
  min_free_mb:
    description:
      - A build is refused, before anything is made, while the filesystem that holds O(root) has fewer megabytes
        free; 0 to build whatever is free.
    type: int
    default: 0
  commands:
    description:
      - Shell commands run in a new release after its tests, as O(run_user) with the app's environment file
        loaded (database migrations, say). They run only when this call builds a release.
    type: list
    elements: str
    default: []
  run_commands:
    description:
      - Whether this host runs O(commands); the role sets it on one host only when they act on something the
        hosts share (a database). Every host's build ends before any host switches.
    type: bool
    default: true
  setup_commands:
    description:
      - Shell commands run once for the app (creating its database, say), as O(commands) run, just before them,
        in the first release built on a host with no live release and no C(shared/.webstack-setup). That file
        records the release they ran in; once it is there, or once a release is live, they never run again.
    type: list
    elements: str
    default: []
  run_setup:
    description:
      - Whether this host may run O(setup_commands); the role sets it on the host that runs O(commands), and
        only while no host of the play has a live release or C(shared/.webstack-setup).
    type: bool
    default: false
  hold_commands:
    description:
      - With O(state=built), a new release whose O(setup_commands) or O(commands) would run on this host is built
        and tested, then marked C(held) with them not run; a second call with O(commands_of) runs them. Something
        can come between (C(deploy.yml) takes a database backup labelled with the release). A held release is
        never switched to.
    type: bool
    default: false
  commands_of:
    description:
      - With O(state=built), run the held O(setup_commands) and O(commands) of this release (one built with
        O(hold_commands)) and mark it built; nothing else is built or fetched. A failure marks it failed.
    type: str
    default: ""
  config_dir:
    description: A root-owned folder to create for the app server's configs (O(state=built)).
    type: path
  helpers:
    description: Scripts to install in the app root's C(bin/), root-owned and executable, by name (O(state=built)).
    type: dict
    default: {}
  env_content:
    description:
      - The text of O(env_file), written owned by O(user) and readable by O(group) only (mode 0640) when it
        differs (O(state=built)). Left alone when not given.
    type: str
  files:
    description:
      - Files the app reads, under the app root's C(shared/) (C(instance/config.py), say), written when their
        text differs (O(state=built)); a missing parent folder is made like a shared path. A change restarts the
        app as a changed environment does (both states read them).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file's path under C(shared/), without C(..).
        type: str
        required: true
      content:
        description: The file's text.
        type: str
        required: true
      secret:
        description: Readable by O(run_user) alone (mode 0600); else owned by O(user), mode 0644.
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    description: Reports whether a build or a switch would happen, and changes nothing (not even the mirror).
  diff_mode:
    support: full
    description: The live release before and after.
notes:
  - The health probe is C(bin/webstack-probe) of the app root, which the role installs through O(helpers).
author:
  - pyops.webstack developers (@pyops-webstack)
"""

EXAMPLES = r"""
- name: Build and test v1.2.0 without switching
  pyops.webstack.app_release:
    state: built
    name: webapp
    root: /srv/webapp
    repo: git@git.example.com:acme/webapp.git
    version: v1.2.0
    user: deploy
    group: deploy
    run_user: deploy
    packages: [pyuwsgi==2.0.30.post1]
    uv: /opt/pyops-webstack/tools/bin/uv
  register: build

- name: Switch to it
  pyops.webstack.app_release:
    state: live
    name: webapp
    root: /srv/webapp
    version: v1.2.0
    user: deploy
    group: deploy
    run_user: deploy
    packages: [pyuwsgi==2.0.30.post1]
    server_config: /etc/webstack/webapp/uwsgi.ini
    env_file: /srv/webapp/shared/env
    program: "{{ lookup('ansible.builtin.template', 'app-slot.conf.j2') }}"
    protocol: uwsgi
"""

RETURN = r"""
release:
  description: The release this call built or switched to (empty when there is none yet, in check mode).
  returned: always
  type: str
  sample: 20261202T131500Z-3f2a9c1d0e
commit:
  description: The commit O(version) resolves to.
  returned: always
  type: str
built:
  description: Whether this call built a new release.
  returned: always
  type: bool
commands_held:
  description: Whether this call built a release and held its commands (O(hold_commands)).
  returned: always
  type: bool
setup_ran:
  description: Whether this call ran O(setup_commands).
  returned: always
  type: bool
install:
  description: What the build installed (locked, requirements, project or both; O(install) auto says which);
    empty when nothing was built.
  returned: always
  type: str
  sample: locked
switched:
  description: Whether this call switched (a new release, or the live one restarted with a new config).
  returned: always
  type: bool
live:
  description: The release that was live when the call started (empty on a first deploy).
  returned: always
  type: str
slot:
  description: The colour that serves after the call (empty on a host that does not serve the app).
  returned: always
  type: str
stopped:
  description: The old colour this call stopped with nothing to switch (left running by O(stop_old=false)), or
    empty.
  returned: always
  type: str
result:
  description: What the history records, C(built), C(deployed), C(switched), C(restarted), or empty.
  returned: always
  type: str
pruned:
  description: The releases removed, each with the status it had.
  returned: always
  type: list
  elements: str
laid_out:
  description: The folders and files of the layout that O(state=built) created or corrected (would, in check mode).
  returned: when O(state=built)
  type: list
  elements: str
phases:
  description: Seconds each phase took.
  returned: always
  type: dict
  sample: {"fetch": 0.31, "build": 5.2, "tests": 0.8}
"""

import datetime
import difflib
import hashlib
import json
import os
import platform
import pwd
import grp
import re
import shutil
import stat
import string
import subprocess
import time
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

SLOTS = ("blue", "green")
# The PATH the module's commands run with.
SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
# The files a release names its Python in (Heroku's, then pyenv's and uv's), the first found wins.
PYTHON_PINS = ("runtime.txt", ".python-version")
HISTORY_HEADER = "# release\tcommit\tversion\ttime\tby\tresult\n"


class StepFailed(Exception):
    """A step of the release failed: its name (recorded in the history) and what it printed."""

    def __init__(self, step, output=""):
        super().__init__(step)
        self.step = step
        self.output = output


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def asked_python(text):
    """The version a runtime.txt (python-3.11.7) or .python-version (3.11, cpython-3.11.7) asks for, as a tuple of
    ints; None when its first line that is not a comment names no CPython version (pypy, a pyenv environment)."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"(?:c?python-?)?(\d+)\.(\d+)(?:\.(\d+))?", line, re.IGNORECASE)
        return tuple(int(part) for part in match.groups() if part is not None) if match else None
    return None


def dotted(version):
    return ".".join(str(part) for part in version)


def release_status(release):
    """A release folder's status word: building, held, built, ready or failed (unfinished when it has none)."""
    try:
        return (Path(release) / ".webstack-status").read_text().split(":", 1)[0].strip()
    except OSError:
        return "unfinished"


def release_meta(release):
    try:
        return json.loads((Path(release) / ".webstack-release").read_text())
    except (OSError, ValueError):
        return {}


def release_folders(root):
    """The release folders of an app root, newest first (their names begin with the build time)."""
    releases = Path(root) / "releases"
    if not releases.is_dir():
        return []
    return sorted((p for p in releases.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)


def find_release(root, commit, packages):
    """The newest release built from commit with these packages that can be switched to again: built (and
    tested, never live) or ready (it was live once). Empty when there is none."""
    for release in release_folders(root):
        meta = release_meta(release)
        if meta.get("commit") == commit and meta.get("packages") == packages \
                and release_status(release) in ("built", "ready"):
            return release.name
    return ""


def releases_to_prune(root, keep):
    """(name, status) of the releases to remove: all but the newest folder, the live and previous releases, and
    the keep newest good (ready) ones. Failed and unfinished releases never count towards keep."""
    root = Path(root)
    releases = release_folders(root)
    protected = {releases[0].name} if releases else set()
    for link in ("current", "previous"):
        if (root / link).is_symlink():
            protected.add(Path(os.readlink(root / link)).name)
    good = [r for r in releases if release_status(r) == "ready"]
    protected.update(r.name for r in good[:keep])
    return [(r.name, release_status(r)) for r in releases if r.name not in protected]


def other_slot(slot):
    return "green" if slot == "blue" else "blue"


def file_sha1(path):
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "-"


def program_line(program_file, prefix):
    """The rest of the first line of a colour's program file that starts with prefix, or "" (no such line or file)."""
    try:
        for line in Path(program_file).read_text().splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
    except OSError:
        pass
    return ""


def fingerprint_of(program_file):
    """The fingerprint a colour's program file records (release and inputs it was started with)."""
    return program_line(program_file, "; fingerprint: ")


def release_of(program_file):
    """The release a colour's program file runs (its directory), or ""."""
    return Path(program_line(program_file, "directory=")).name


def become(account):
    """In a child process: take on a user's ids and groups (nothing to do when it is already that user)."""
    if os.getuid() == account.pw_uid:
        return
    os.setgid(account.pw_gid)
    os.initgroups(account.pw_name, account.pw_gid)
    os.setuid(account.pw_uid)


def render_program(template, **values):
    return string.Template(template).safe_substitute(**values).rstrip("\n") + "\n"


class Release:
    """One call of the module: the app root's state as read at the start, and the steps that change it."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.root = Path(self.p["root"])
        self.run_dir = self.root / "run"
        self.mirror = self.root / "repo.git"
        self.lock = self.root / "deploy.lock"
        self.history = self.root / "history.tsv"
        self.version = self.p["version"]  # what the history records; a named release's own version
        self.phases = {}
        self.result = {"release": "", "commit": "", "built": False, "switched": False, "live": "", "slot": "",
                       "result": "", "pruned": [], "changed": False, "setup_ran": False, "install": "",
                       "stopped": "", "commands_held": False}
        self.setup_marker = self.root / "shared" / ".webstack-setup"
        # What a failure must undo.
        self.new_release = ""  # a folder this call created
        self.new_slot = ""  # a colour this call started
        self.swapped = False
        self.old_slot = ""
        self.old_release = ""
        self.target = ""
        self.step = ""
        self.locked = False
        self.uid = pwd.getpwnam(self.p["user"]).pw_uid
        self.gid = grp.getgrnam(self.p["group"]).gr_gid

    # --- running things -------------------------------------------------------------------------------------

    def run(self, argv, step, cwd=None, user="", env=None, shell=False, ok=(0,)):
        """Run a command as user (the code owner unless told; "root" stays root); another exit code than ok
        fails the step with what the command printed."""
        user = user or self.p["user"]
        account = pwd.getpwnam(user)
        environ = {"PATH": SEARCH_PATH, "LANG": "C.UTF-8", "HOME": account.pw_dir,
                   "USER": user, "LOGNAME": user}
        environ.update(env or {})
        proc = subprocess.run(argv, cwd=cwd, env=environ, shell=shell, capture_output=True, text=True,
                              preexec_fn=lambda: become(account), check=False,
                              executable="/bin/bash" if shell else None)
        if proc.returncode not in ok:
            raise StepFailed(step, (proc.stdout + "\n" + proc.stderr).strip())
        return proc

    def timed(self, phase, started):
        self.phases[phase] = round(self.phases.get(phase, 0) + time.monotonic() - started, 2)

    def write_file(self, path, content, owner=None, mode=0o644):
        """Make a file hold content, with its owner (uid, gid; the code owner unless told) and mode, replacing it
        in one rename when its text differs; says whether anything changed."""
        path = Path(path)
        uid, gid = owner or (self.uid, self.gid)
        try:
            same = path.read_text() == content
        except OSError:
            same = False
        if same:
            return self.set_owner_and_mode(path, uid, gid, mode)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(content)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        return True

    @staticmethod
    def set_owner_and_mode(path, uid, gid, mode):
        info = os.lstat(path)
        changed = False
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.chown(path, uid, gid)
            changed = True
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
            changed = True
        return changed

    def make_folder(self, path, owner, mode):
        """A folder with its owner and mode (its missing parents too); says whether anything changed."""
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            return self.set_owner_and_mode(path, *owner, mode)
        if path.exists() or path.is_symlink():
            raise NotADirectoryError(f"{path} is there but is not a folder; move it away")
        path.mkdir(parents=True)
        os.chown(path, *owner)
        os.chmod(path, mode)
        return True

    # --- the app root's layout ------------------------------------------------------------------------------

    def layout(self):
        """What state=built lays out before it builds: (path, what, owner, mode, text) for each folder and file."""
        code = (self.uid, self.gid)
        runs = (pwd.getpwnam(self.p["run_user"]).pw_uid, self.gid)
        root_owned = (0, 0)
        shared = self.root / "shared"
        items = [(self.root, "folder", code, 0o755, None), (self.root / "releases", "folder", code, 0o755, None),
                 (shared, "folder", code, 0o750, None), (self.run_dir, "folder", runs, 0o750, None),
                 (self.root / "bin", "folder", root_owned, 0o755, None)]
        if self.p["config_dir"]:
            items.append((Path(self.p["config_dir"]), "folder", root_owned, 0o755, None))
        items += [(shared / path, "folder", runs, 0o770, None) for path in self.p["shared_paths"]]
        items += [(self.root / "bin" / name, "file", root_owned, 0o755, text)
                  for name, text in sorted(self.p["helpers"].items())]
        if self.p["env_content"] is not None:
            items.append((Path(self.p["env_file"]), "file", code, 0o640, self.p["env_content"]))
        for path, item in zip(self.app_files(), self.p["files"]):
            items += [(parent, "folder", runs, 0o770, None) for parent in reversed(path.parents)
                      if shared in parent.parents]
            items.append((path, "file", runs if item["secret"] else code, 0o600 if item["secret"] else 0o644,
                          item["content"]))
        return items

    def app_files(self):
        """The paths of O(files), under shared/."""
        return [self.root / "shared" / item["path"] for item in self.p["files"]]

    def lay_out(self):
        """Create or correct the app root's folders, its helpers and its environment file, and start the history.
        Returns the paths changed (in check mode, those that would change)."""
        started = time.monotonic()
        self.step = "Lay out the app root"
        changed = []
        for path, what, (uid, gid), mode, text in self.layout():
            if self.module.check_mode:
                if not self.looks_right(path, what, uid, gid, mode, text):
                    changed.append(str(path))
            elif what == "folder" and self.make_folder(path, (uid, gid), mode):
                changed.append(str(path))
            elif what == "file" and self.write_file(path, text, (uid, gid), mode):
                changed.append(str(path))
        if not self.module.check_mode and not self.history.exists():
            self.write_file(self.history, HISTORY_HEADER)
            changed.append(str(self.history))
        self.result["laid_out"] = changed
        self.result["changed"] = self.result["changed"] or bool(changed)
        self.timed("layout", started)

    @staticmethod
    def looks_right(path, what, uid, gid, mode, text):
        try:
            info = os.lstat(path)
            if what == "folder" and not stat.S_ISDIR(info.st_mode):
                return False
            if what == "file" and Path(path).read_text() != text:
                return False
        except OSError:
            return False
        return (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode)

    def relink(self, link, target):
        """Point a symlink at target in one rename, so it is never missing."""
        tmp = link.with_name(f".{link.name}.new")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, link)

    def record(self, release, result, commit="", version=""):
        line = "\t".join([release or "-", commit or self.result["commit"] or "-", version or self.version,
                          utc_now().replace(tzinfo=None).isoformat() + "Z", self.p["deployer"], result])
        if not self.history.exists():
            self.write_file(self.history, HISTORY_HEADER)
        with self.history.open("a") as history:
            history.write(line + "\n")

    def notify(self, event, release, reason="", serving="", commit="", version=""):
        """POST the deploy's outcome to O(notify_url); a webhook that fails is a warning, never a failure."""
        if not self.p["notify_url"]:
            return
        body = {"event": event, "app": self.p["name"], "host": self.p["host_name"] or platform.node(),
                "release": release or "", "version": version or self.version,
                "commit": commit or self.result["commit"], "by": self.p["deployer"],
                "time": utc_now().replace(tzinfo=None).isoformat() + "Z", "reason": reason, "serving": serving}
        try:
            open_url(self.p["notify_url"], data=json.dumps(body), method="POST", timeout=self.p["notify_timeout"],
                     headers={"Content-Type": "application/json"}, http_agent="pyops.webstack app_release")
        except Exception as error:  # noqa: BLE001 - whatever went wrong, the deploy's own outcome stands
            self.module.warn(f"The webhook (notify_url) was not told of this {event}: {type(error).__name__}: "
                             f"{str(error).replace(self.p['notify_url'], '<notify_url>')[:200]}")

    def mark(self, release, status):
        self.write_file(self.root / "releases" / release / ".webstack-status", status + "\n")

    # --- the lock -------------------------------------------------------------------------------------------

    def take_lock(self):
        try:
            self.lock.mkdir()
        except FileExistsError:
            try:
                owner = (self.lock / "owner").read_text().strip()
            except OSError:
                owner = ""
            self.module.fail_json(
                msg=f"Another deploy holds {self.lock}: {owner or 'owner unknown'}. If that deploy is no longer "
                    "running (a stale lock), remove the folder and deploy again.", **self.result)
        self.locked = True
        (self.lock / "owner").write_text(
            f"{self.p['deployer']} since {utc_now().replace(tzinfo=None).isoformat()}Z "
            f"(deploying {self.version})\n")

    def give_back_lock(self):
        if self.locked:
            shutil.rmtree(self.lock, ignore_errors=True)
            self.locked = False

    # --- reading the state ----------------------------------------------------------------------------------

    def read_state(self, fetch):
        started = time.monotonic()
        if fetch and not self.module.check_mode:
            self.step = "Mirror the app repository"
            if not (self.mirror / "HEAD").exists():
                self.run(["git", "clone", "--quiet", "--mirror", self.p["repo"], str(self.mirror)], self.step)
                self.result["changed"] = True
            else:
                self.step = "Fetch new commits"
                before = self.run(["git", "show-ref"], self.step, cwd=self.mirror, ok=(0, 1)).stdout
                self.run(["git", "remote", "update", "--prune"], self.step, cwd=self.mirror)
                if self.run(["git", "show-ref"], self.step, cwd=self.mirror, ok=(0, 1)).stdout != before:
                    self.result["changed"] = True
        self.timed("fetch", started)
        self.step = "Resolve the version to a commit"
        if self.p["release"]:
            self.choose_named_release()
        elif (self.mirror / "HEAD").exists():
            self.result["commit"] = self.resolve(self.p["version"])
        elif not self.module.check_mode:
            raise StepFailed(self.step, f"{self.mirror} is not a git mirror")
        self.live = release_meta(self.root / "current")
        self.result["live"] = self.old_release = self.live.get("id", "")
        live_sock = self.run_dir / "live.sock"
        self.old_slot = Path(os.readlink(live_sock)).name.removesuffix(".sock") if live_sock.is_symlink() else ""
        # config.yml's settings count only once they exist: an estate without them fingerprints as before.
        overrides = [p for p in [f"{self.p['env_file']}.local"] if self.p["env_file"] and os.path.exists(p)]
        self.inputs = "-".join(file_sha1(p) for p in (self.p["server_config"], self.p["env_file"], *self.app_files(),
                                                      *overrides) if p)
        self.live_differs = (self.live.get("commit") != self.result["commit"]
                             or self.live.get("packages", []) != self.p["packages"])

    def resolve(self, version):
        """The commit a tag, branch or commit names in the mirror; a name it does not know fails the step with
        the names nearest to it (a mistyped tag is the usual cause)."""
        found = self.run(["git", "rev-parse", "--verify", "--quiet", version + "^{commit}"], self.step,
                         cwd=self.mirror, ok=(0, 1))
        if found.returncode == 0:
            return found.stdout.strip()
        names = self.run(["git", "for-each-ref", "--format=%(refname:short)", "refs/tags", "refs/heads"],
                         self.step, cwd=self.mirror).stdout.split()
        nearest = difflib.get_close_matches(version, names, n=3, cutoff=0.4)
        hint = f"the nearest: {', '.join(nearest)}" if nearest else f"it has: {', '.join(sorted(names)[:10])}"
        raise StepFailed(self.step, f"{version} is no tag, branch or commit of the app repository ({hint}).")

    def choose_named_release(self):
        """O(release) names the release to switch to: it must be built or ready; its commit and version are its
        own (O(version) then only names the deploy in messages)."""
        self.step = "Choose the release to switch to"
        folder = self.root / "releases" / self.p["release"]
        meta = release_meta(folder)
        if "/" in self.p["release"] or release_status(folder) not in ("built", "ready") or not meta:
            raise StepFailed(self.step, f"release {self.p['release']} is not a built or ready release of "
                                        f"{self.root / 'releases'}")
        self.result["commit"], self.version = meta.get("commit", ""), meta.get("version", self.version)

    def choose_target(self):
        """The release to switch to: the one named, one already built of this commit, else the live one."""
        if self.p["release"]:
            return self.p["release"]
        if self.live_differs:
            return find_release(self.root, self.result["commit"], self.p["packages"]) if self.result["commit"] else ""
        return self.old_release

    def program_file(self, slot):
        return Path(self.p["program_dir"]) / f"{self.p['name']}-{slot}.conf"

    def slot_config(self, slot):
        server_config = Path(self.p["server_config"])
        return server_config.with_name(f"{slot}-{server_config.name}")

    def needs_switch(self):
        if self.target != self.old_release:
            return True
        if not self.p["serve"]:
            return False
        live_fingerprint = fingerprint_of(self.program_file(self.old_slot)) if self.old_slot else ""
        return live_fingerprint != f"{self.old_release}-{self.inputs}"

    # --- building -------------------------------------------------------------------------------------------

    def free_space(self):
        """(megabytes free to this user, the mount point) of the filesystem that holds the app root."""
        stats = os.statvfs(self.root)
        mount = Path(self.root).resolve()
        while not os.path.ismount(mount):
            mount = mount.parent
        return stats.f_bavail * stats.f_frsize // 2**20, str(mount)

    def build(self):
        commit = self.result["commit"]
        self.step = "Check the free space for the release"
        free, mount = self.free_space()
        if free < self.p["min_free_mb"]:
            raise StepFailed(self.step, f"only {free} MB free on {mount} (the filesystem of {self.root}), fewer than "
                                        f"python_app_min_free_mb ({self.p['min_free_mb']} MB): free some space there "
                                        "(old releases go with python_app_keep_releases); nothing was built.")
        release_id = f"{utc_now().strftime('%Y%m%dT%H%M%SZ')}-{commit[:10]}"
        folder = self.root / "releases" / release_id
        self.step = "Create the release folder"
        folder.mkdir(mode=0o755)
        os.chown(folder, self.uid, self.gid)
        self.new_release = release_id
        self.mark(release_id, "building")

        started = time.monotonic()
        self.step = "Export the commit into the release"
        self.run(f"set -o pipefail; git archive --format=tar {commit} | tar -x -C {folder}", self.step,
                 cwd=self.mirror, shell=True)
        self.timed("export", started)

        started = time.monotonic()
        uv, build_env = self.p["uv"], {k: str(v) for k, v in self.p["build_env"].items()}
        if uv and not os.access(uv, os.X_OK):
            self.module.warn(f"{uv} is missing (site.yml installs it): this release is built with pip")
            uv = ""
        self.step = "Build the release virtualenv"
        venv = [uv, "venv", "--quiet", "--python", self.p["python"], ".venv"] if uv \
            else [self.p["python"], "-m", "venv", ".venv"]
        self.run(venv, self.step, cwd=folder, env=build_env)
        self.step = "Install the app and its app server into the release virtualenv"
        mode = self.result["install"] = self.install_mode(folder)
        install = [uv, "pip", "install", "--quiet", "--python", ".venv/bin/python"] if uv \
            else [".venv/bin/pip", "install", "--quiet", "--disable-pip-version-check"]
        if mode == "locked":
            if not uv:
                raise StepFailed(self.step, "the release has a uv.lock, which only uv installs, and this host builds "
                                            "with pip (python_app_use_uv is false, or uv could not be installed). "
                                            "Set python_app_install: project to install from pyproject.toml "
                                            "without the lock.")
            # The lock's versions exactly, without the dev group, the project built (a release never changes).
            self.run([uv, "sync", "--quiet", "--frozen", "--no-dev", "--no-editable", "--python", ".venv/bin/python"],
                     self.step, cwd=folder, env={**build_env, "UV_PROJECT_ENVIRONMENT": str(folder / ".venv")})
        if mode in ("requirements", "both"):
            install += ["-r", self.p["requirements_file"]]
        if mode in ("project", "both"):
            install.append(".")
        if mode != "locked" or self.p["packages"]:
            self.run(install + self.p["packages"], self.step, cwd=folder, env=build_env)
        self.timed("venv", started)

        self.step = "Link the shared paths into the release"
        for shared in self.p["shared_paths"]:
            self.run(["sh", "-c", 'rm -rf "$1" && mkdir -p "$(dirname "$1")" && ln -s "$2" "$1"', "link", shared,
                      str(self.root / "shared" / shared)], self.step, cwd=folder)

        self.step = "Describe the release"
        meta = {"id": release_id, "commit": commit, "version": self.p["version"], "packages": self.p["packages"],
                "built_at": utc_now().replace(tzinfo=None).isoformat() + "Z", "by": self.p["deployer"]}
        self.write_file(folder / ".webstack-release", json.dumps(meta, indent=4) + "\n")

        if self.p["test_command"]:
            started = time.monotonic()
            self.step = "Run the app's tests in the new release (nothing live has changed yet)"
            self.run(self.p["test_command"], self.step, cwd=folder, shell=True,
                     env={"PATH": f"{folder}/.venv/bin:/usr/local/bin:/usr/bin:/bin"})
            self.timed("tests", started)
        if self.p["hold_commands"] and self.commands_to_run():
            self.mark(release_id, "held")
            self.result.update(built=True, changed=True, commands_held=True)
            return release_id
        self.run_release_commands(folder, release_id)
        return release_id

    def commands_to_run(self):
        """Whether a new release on this host runs setup or release commands."""
        return bool(self.p["run_commands"] and self.p["commands"]
                    or self.p["setup_commands"] and self.p["run_setup"] and not self.live
                    and not self.setup_marker.exists())

    def run_release_commands(self, folder, release_id):
        """The setup commands of a first release, then the release commands; the release is built after them."""
        if self.p["setup_commands"] and self.p["run_setup"] and not self.live and not self.setup_marker.exists():
            started = time.monotonic()
            self.step = "Run the setup commands (the app's first release), before the release commands"
            self.run_app_commands(self.p["setup_commands"], folder)
            self.write_file(self.setup_marker, f"{release_id} {utc_now().replace(tzinfo=None).isoformat()}Z "
                                               f"{self.p['deployer']}\n")
            self.result["setup_ran"] = True
            self.timed("setup", started)
        if self.p["commands"] and self.p["run_commands"]:
            started = time.monotonic()
            self.step = "Run the release commands (once per deploy, or on each host), before the switch"
            self.run_app_commands(self.p["commands"], folder)
            self.timed("commands", started)
        self.mark(release_id, "built")
        self.result.update(built=True, changed=True)

    def run_held(self):
        """O(commands_of): the commands of a release built with O(hold_commands), now that what had to come
        before them is done."""
        self.step = "Find the release whose commands were held"
        release_id = self.p["commands_of"]
        folder = self.root / "releases" / release_id
        if "/" in release_id or not release_id.strip(".") or release_status(folder) != "held":
            raise StepFailed(self.step, f"release {release_id} of {self.root / 'releases'} is not waiting for its "
                                        "commands (it is not held)")
        meta = release_meta(folder)
        self.result["commit"], self.version = meta.get("commit", ""), meta.get("version", self.version)
        self.live = release_meta(self.root / "current")
        self.result["live"] = self.live.get("id", "")
        self.result.update(release=release_id, changed=True)
        if self.module.check_mode:
            return
        self.new_release = release_id  # a failure marks it failed and records it
        self.run_release_commands(folder, release_id)
        self.record(release_id, "built")
        self.result["result"] = "built"

    def install_mode(self, folder):
        """O(install), or with auto what the release has: uv.lock, the requirements file, a project."""
        if self.p["install"] != "auto":
            return self.p["install"]
        for mode, names in (("locked", ["uv.lock"]), ("requirements", [self.p["requirements_file"]]),
                            ("project", ["pyproject.toml", "setup.py"])):
            if any((folder / name).is_file() for name in names):
                return mode
        raise StepFailed(self.step, f"the release has no uv.lock, {self.p['requirements_file']}, pyproject.toml or "
                                    "setup.py: nothing says what to install (python_app_install, "
                                    "python_app_requirements_file).")

    def run_app_commands(self, commands, folder):
        """Shell commands in a release, as the app's user with its environment file loaded; the first that fails
        fails the step."""
        script = "set -e\nset -a; . \"$WEBSTACK_ENV_FILE\"; set +a\n" + "\n".join(commands)
        self.run(script, self.step, cwd=folder, user=self.p["run_user"], shell=True,
                 env={"PATH": f"{folder}/.venv/bin:/usr/local/bin:/usr/bin:/bin",
                      "WEBSTACK_ENV_FILE": self.p["env_file"]})

    # --- switching ------------------------------------------------------------------------------------------

    def supervisorctl(self, *args, ok=(0,)):
        return self.run(["supervisorctl", *args], self.step, user="root", ok=ok)

    def probe(self, socket, wait, step):
        self.step = step
        self.run([str(self.root / "bin" / "webstack-probe"), f"--socket={self.run_dir / socket}",
                  f"--protocol={self.p['protocol']}", f"--path={self.p['health_path']}", f"--wait={wait}",
                  *(f"--status={status}" for status in self.p["health_statuses"])],
                 step, user="root")

    def queued(self, socket):
        """How many connections wait on a listening unix socket to be taken (ss's Recv-Q), or None when that
        cannot be read (no ss, or no such listening socket)."""
        try:
            rc, out, dummy = self.module.run_command(["ss", "-xlnH", "src", str(socket)])
        except OSError:
            return None
        lines = [line.split() for line in out.splitlines()] if rc == 0 else []
        if len(lines) != 1 or len(lines[0]) < 3 or lines[0][1] != "LISTEN" or not lines[0][2].isdigit():
            return None
        return int(lines[0][2])

    def drain(self, socket, seconds):
        """Wait until the old colour's socket has had no queued connection for two reads in a row (the front
        server connects to live.sock, which no longer points there), at most `seconds`. Requests a worker
        already has are finished by the graceful stop that follows."""
        deadline = time.monotonic() + seconds
        empty = 0
        while time.monotonic() < deadline:
            waiting = self.queued(socket)
            if waiting is None:
                time.sleep(max(0.0, deadline - time.monotonic()))
                return
            empty = empty + 1 if waiting == 0 else 0
            if empty >= 2:
                return
            time.sleep(0.1)

    def start_slot(self, slot, release):
        program = f"{self.p['name']}-{slot}"
        self.step = "Give the idle colour its own copy of the server config"
        self.write_file(self.slot_config(slot), Path(self.p["server_config"]).read_text(), (0, 0))
        self.step = "Point the idle colour at the release"
        self.write_file(self.program_file(slot), self.program(slot, release, True, f"{release}-{self.inputs}"),
                        (0, 0))
        self.new_slot = slot
        self.step = "Start the release on the idle colour"
        self.supervisorctl("update", program)
        started = self.supervisorctl("start", program, ok=(0, 1, 7))
        if started.returncode != 0 and "already started" not in started.stdout:
            raise StepFailed(self.step, started.stdout + started.stderr)

    def stop_slot(self, slot, release):
        """Stop a colour and keep it stopped across reboots (its program file says autostart=false)."""
        program = f"{self.p['name']}-{slot}"
        self.step = "Stop the old colour and keep it stopped"
        # One call either way: for a changed program file, update stops the program (its stop signal, waited
        # for) and adds it back stopped.
        if self.write_file(self.program_file(slot), self.program(slot, release or self.target, False, "stopped"),
                           (0, 0)):
            self.supervisorctl("update", program)
        else:
            self.supervisorctl("stop", program, ok=(0, 1, 7))

    def program(self, slot, release, autostart, fingerprint):
        return render_program(self.p["program"], slot=slot, release=str(self.root / "releases" / release),
                              config=str(self.slot_config(slot)), socket=str(self.run_dir / f"{slot}.sock"),
                              autostart=str(autostart).lower(), fingerprint=fingerprint)

    def switch(self):
        target, serve = self.target, self.p["serve"]
        started = time.monotonic()
        if serve:
            self.start_slot(other_slot(self.old_slot) if self.old_slot else "blue", target)
            self.probe(f"{self.new_slot}.sock", self.p["health_timeout"],
                       "Wait until the release answers its health path on the idle colour's socket")
        self.timed("start", started)

        started = time.monotonic()
        self.step = "Switch the live socket, current and previous to the release"
        if serve:
            self.relink(self.run_dir / "live.sock", f"{self.new_slot}.sock")
        self.relink(self.root / "current", f"releases/{target}")
        self.swapped = True
        if self.old_release and self.old_release != target and not self.p["live_failed"]:
            self.relink(self.root / "previous", f"releases/{self.old_release}")
        elif self.p["live_failed"]:
            self.keep_previous_off(target)
        if serve:
            self.probe("live.sock", 10, "Check the health path again through the live socket")
        self.timed("switch", started)

        if serve and self.old_slot and self.p["stop_old"]:
            self.drain_and_stop(self.old_slot, self.old_release)

        switched_back = self.p["live_failed"] and self.old_release != target
        if switched_back:
            self.mark(self.old_release, f"failed: {self.p['live_failed']}")
            self.record(self.old_release, f"failed: {self.p['live_failed']}", commit=self.live.get("commit", "-"),
                        version=self.live.get("version", "-"))
        self.step = "Mark the release good"
        first_time = release_status(self.root / "releases" / target) != "ready"
        self.mark(target, "ready")
        # deployed: the release goes live for the first time; switched: back to one that was live (a rollback).
        result = "restarted" if target == self.old_release else "deployed" if first_time else "switched"
        self.record(target, result)
        if switched_back:  # one call: the failed release, why, and what serves again
            self.notify("switched back", self.old_release, reason=self.p["live_failed"], serving=target,
                        commit=self.live.get("commit", "-"), version=self.live.get("version", "-"))
        else:
            self.notify(result, target, serving=target)
        self.result.update(switched=True, changed=True, result=result, release=target,
                           slot=self.new_slot if serve else "")
        self.step = "Remove old releases"
        for name, status in releases_to_prune(self.root, self.p["keep_releases"]):
            shutil.rmtree(self.root / "releases" / name)
            self.result["pruned"].append(f"{name} ({status})")

    def stop_idle(self):
        """With nothing to switch: drain and stop the colour that does not serve when its program file still
        starts it (a switch with O(stop_old=false) left it running)."""
        idle = other_slot(self.old_slot)
        program_file = self.program_file(idle)
        if not program_file.exists() or fingerprint_of(program_file) in ("", "stopped"):
            return
        self.result.update(changed=True, stopped=idle)
        if not self.module.check_mode:
            self.drain_and_stop(idle, release_of(program_file))

    def drain_and_stop(self, slot, release):
        """The old colour, no longer served: let it finish what is queued on its socket, then stop it."""
        started = time.monotonic()
        self.step = "Let the old colour finish the requests it already has"
        self.drain(self.run_dir / f"{slot}.sock", self.p["drain_seconds"])
        self.timed("drain", started)
        started = time.monotonic()
        self.stop_slot(slot, release)
        self.timed("stop", started)

    def keep_previous_off(self, target):
        """Going back from a failed live release: previous is the newest other good release, never the failed
        one (a rollback must not go back to it), or none."""
        others = [r.name for r in release_folders(self.root)
                  if r.name not in (target, self.old_release) and release_status(r) == "ready"]
        if others:
            self.relink(self.root / "previous", f"releases/{others[0]}")
        elif (self.root / "previous").is_symlink():
            (self.root / "previous").unlink()

    def undo(self, failure):
        """After a failed step: switch back, stop the new colour, mark and record the failure."""
        if self.swapped and self.old_slot and self.p["serve"]:
            self.relink(self.run_dir / "live.sock", f"{self.old_slot}.sock")
        if self.swapped and self.old_release:
            self.relink(self.root / "current", f"releases/{self.old_release}")
        if self.new_slot and self.new_slot != self.old_slot:
            try:
                self.stop_slot(self.new_slot, self.target)
            except StepFailed:
                pass
        failed = self.new_release or (self.target if release_status(self.root / "releases" / self.target) == "built"
                                      and self.target else "")
        if failed:
            self.mark(failed, f"failed: {failure.step}")
        back = " (switched back)" if self.swapped and self.old_release else ""
        self.record(self.new_release or self.target, f"failed: {failure.step}{back}")
        why = f"{failure.step}: {failure.output.strip()}".strip(": ")
        self.notify("switched back" if back else "failed", self.new_release or self.target,
                    reason=why if len(why) <= 500 else why[:497] + "...",
                    serving=self.old_release if back or not self.swapped else "")

    # --- the two states -------------------------------------------------------------------------------------

    def check_python(self):
        """Refuse, before anything is made, a release whose runtime.txt or .python-version asks for another minor
        version than O(python) is; warn of another patch level."""
        self.step = "Check the Python the release asks for"
        for pin in PYTHON_PINS:
            shown = self.run(["git", "show", f"{self.result['commit']}:{pin}"], self.step, cwd=self.mirror,
                             ok=(0, 128))
            asked = asked_python(shown.stdout) if shown.returncode == 0 else None
            if asked is None:
                continue
            probe = "import sys; print('.'.join(map(str, sys.version_info[:3])))"
            have = tuple(int(part) for part in self.run([self.p["python"], "-c", probe], self.step).stdout.split("."))
            if asked[:2] != have[:2]:
                found = sorted({path.name for folder in ("/usr/local/bin", "/usr/bin")
                                for path in Path(folder).glob("python3.*") if re.fullmatch(r"python3\.\d+", path.name)})
                raise StepFailed(self.step, f"{pin} asks for Python {dotted(asked)}; {self.p['python']} is "
                                            f"{dotted(have)}. Pythons on this host: {', '.join(found) or 'none'}. "
                                            f"Set python_app_python to one of {dotted(asked[:2])}, install it, or "
                                            f"change {pin}.")
            if asked != have[:len(asked)]:
                self.module.warn(f"{pin} asks for Python {dotted(asked)}; the release is built with "
                                 f"{self.p['python']} {dotted(have)}, the same minor version.")
            return

    def built(self):
        if self.p["commands_of"]:
            return self.run_held()
        if not shutil.which("git", path=SEARCH_PATH):
            raise StepFailed("Mirror the app repository", "git is not installed on this host: run site.yml (the "
                                                          "python_app role installs what releases are built with)")
        self.read_state(fetch=True)
        self.target = self.choose_target()
        if self.live_differs and not self.target:
            if self.p["check_python"] and self.result["commit"] and (self.mirror / "HEAD").exists():
                self.check_python()
            if self.module.check_mode:
                self.result.update(changed=True)
                return
            self.target = self.build()
            if not self.result["commands_held"]:
                self.record(self.target, "built")
                self.result["result"] = "built"
        self.result["release"] = self.target

    def switched(self):
        self.read_state(fetch=False)
        self.target = self.choose_target()
        if not self.target and self.module.check_mode:
            self.result["changed"] = True
            return
        if not self.target:
            raise StepFailed("Choose the release to switch to",
                             f"no built release of {self.p['version']} ({self.result['commit'] or 'unknown commit'})"
                             " with these packages: build it first (state=built)")
        self.result["release"] = self.target
        self.result["slot"] = self.old_slot if self.p["serve"] else ""
        if not self.needs_switch():
            if self.p["serve"] and self.old_slot:
                self.stop_idle()
            return
        if self.module.check_mode:
            self.result["changed"] = True
            return
        self.switch()

    def main(self):
        state = self.p["state"]
        config = self.p["server_config"]
        if self.p["serve"] and not self.module.check_mode and not os.path.isfile(config):
            self.module.fail_json(
                msg=f"{config} does not exist: run the app server's role on this host before python_app "
                    "(pyops.webstack.uwsgi or pyops.webstack.gunicorn, as python_app_server says; uwsgi by "
                    "default). Nothing was changed.", **self.result)
        if state == "built" and not self.module.check_mode and not self.root.is_dir():
            try:  # the lock lives in the root, and the rest of the layout is laid out under the lock
                self.make_folder(self.root, (self.uid, self.gid), 0o755)
            except OSError as error:
                self.fail(StepFailed("Lay out the app root", f"{type(error).__name__}: {error}"))
        if not self.module.check_mode:
            self.take_lock()
        try:
            if state == "built":
                self.lay_out()
            self.built() if state == "built" else self.switched()
        except Exception as error:  # noqa: BLE001 - whatever broke, what was live must be put back
            failure = error if isinstance(error, StepFailed) \
                else StepFailed(self.step, f"{type(error).__name__}: {error}")
            if not self.module.check_mode:
                try:
                    self.undo(failure)
                except Exception as undo_error:  # noqa: BLE001 - the first failure is the one to report
                    failure.output += f"\n(and putting things back failed too: {undo_error})"
            self.fail(failure)
        finally:
            if not self.module.check_mode:
                self.give_back_lock()
        # After: the release switched to, or that check mode says a switch would go to.
        would_switch = state == "live" and self.module.check_mode and self.result["changed"]
        before = self.result["live"]
        after = self.result["release"] if self.result["switched"] or would_switch else before
        self.module.exit_json(phases=self.phases, diff={"before": f"live: {before}\n", "after": f"live: {after}\n"},
                              **self.result)

    def fail(self, failure):
        back = self.swapped and self.old_release
        where = f", switched back to {self.old_release}" if back else ""
        outcome = "the previous release serves" if self.swapped else "nothing live changed"
        output = failure.output.strip()
        if len(output) > 2000:
            output = output[:1997] + "..."
        if "No space left on device" in output and self.root.is_dir():
            free, mount = self.free_space()
            output = f"The disk is full: {mount} (the filesystem of {self.root}) has {free} MB free. {output}"
        self.give_back_lock()
        self.module.fail_json(msg=f'Deploy of {self.p["version"]} failed at "{failure.step}"{where}; {outcome}. '
                                  f"{output}".strip(), step=failure.step, phases=self.phases, **self.result)


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["built", "live"], "required": True},
            "name": {"type": "str", "required": True},
            "root": {"type": "path", "required": True},
            "repo": {"type": "str", "default": ""},
            "version": {"type": "str", "required": True},
            "user": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "run_user": {"type": "str", "required": True},
            "packages": {"type": "list", "elements": "str", "default": []},
            "install": {"type": "str", "choices": ["auto", "locked", "requirements", "project", "both"],
                        "default": "auto"},
            "requirements_file": {"type": "str", "default": "requirements.txt"},
            "python": {"type": "path", "default": "/usr/bin/python3"},
            "check_python": {"type": "bool", "default": True},
            "uv": {"type": "str", "default": ""},
            "build_env": {"type": "dict", "default": {}},
            "shared_paths": {"type": "list", "elements": "str", "default": []},
            "test_command": {"type": "str", "default": ""},
            "deployer": {"type": "str", "default": "unknown"},
            "serve": {"type": "bool", "default": True},
            "server_config": {"type": "path"},
            "env_file": {"type": "path"},
            "program": {"type": "str", "default": ""},
            "program_dir": {"type": "path", "default": "/etc/supervisor/conf.d"},
            "protocol": {"type": "str", "choices": ["http", "uwsgi"], "default": "http"},
            "health_path": {"type": "str", "default": "/healthz"},
            "health_statuses": {"type": "list", "elements": "int", "default": [200]},
            "health_timeout": {"type": "int", "default": 60},
            "stop_old": {"type": "bool", "default": True},
            "drain_seconds": {"type": "int", "default": 3},
            "keep_releases": {"type": "int", "default": 5},
            "min_free_mb": {"type": "int", "default": 0},
            "live_failed": {"type": "str", "default": ""},
            "notify_url": {"type": "str", "default": "", "no_log": True},
            "notify_timeout": {"type": "int", "default": 5},
            "host_name": {"type": "str", "default": ""},
            "release": {"type": "str", "default": ""},
            "commands": {"type": "list", "elements": "str", "default": []},
            "run_commands": {"type": "bool", "default": True},
            "setup_commands": {"type": "list", "elements": "str", "default": []},
            "run_setup": {"type": "bool", "default": False},
            "hold_commands": {"type": "bool", "default": False},
            "commands_of": {"type": "str", "default": ""},
            "config_dir": {"type": "path"},
            "helpers": {"type": "dict", "default": {}},
            "env_content": {"type": "str", "no_log": True},
            "files": {"type": "list", "elements": "dict", "default": [], "no_log": True,
                      "options": {"path": {"type": "str", "required": True},
                                  "content": {"type": "str", "required": True},
                                  "secret": {"type": "bool", "default": True}}},
        },
        required_if=[("state", "built", ["repo"]),
                     ("serve", True, ["server_config", "env_file", "program"])],
        supports_check_mode=True,
    )
    if module.params["keep_releases"] < 1:
        module.fail_json(msg="keep_releases must be 1 or more")
    for item in module.params["files"]:
        if item["path"].startswith("/") or ".." in Path(item["path"]).parts or not item["path"].strip("/."):
            module.fail_json(msg=f"files: {item['path']} is not a path under shared/ (relative, without ..)")
    Release(module).main()


if __name__ == "__main__":
    main()
