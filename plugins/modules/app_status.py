#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs on an app host, read in one call, for the status playbook."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: app_status
short_description: Read an app host's live and previous release, programs, health, free disk and deploy lock
description:
  - Reads, in one call, what an operator asks first about an app host that M(pyops.webstack.app_release)
    deploys to, the way C(kamal app details) or C(heroku ps) answer it.
  - The live and the previous release (id, version, commit, and since when the live one serves), whether the
    deploy lock is held and by whom, the megabytes free on the filesystem of the app root, each supervisor
    program's state, and, on a web host, the health path's answer through the live socket and whether the
    maintenance page is on.
  - The names (never the values) that the config playbook set or unset on the host (C(shared/env.local)).
  - It changes nothing and never reads the app's environment file.
version_added: 0.1.0
options:
  root:
    description: The app root (C(current), C(previous), C(deploy.lock), C(run/live.sock) under it).
    type: path
    required: true
  health_path:
    description: The path asked through the live socket; empty on a host that serves nothing (a worker).
    type: str
    default: ""
  protocol:
    description: What the live socket speaks.
    type: str
    choices: [http, uwsgi]
    default: http
  health_statuses:
    description: The answers that count as healthy.
    type: list
    elements: int
    default: [200]
  maintenance_file:
    description: The flag file that turns the front server's maintenance page on (the nginx and Apache roles'
      C(nginx_maintenance_file), C(apache_maintenance_file)); empty on a host without a front server.
    type: path
    default: ""
author:
  - pyops.webstack developers (@pyops-webstack)
"""

EXAMPLES = r"""
- name: Read what runs on the app host
  pyops.webstack.app_status:
    root: /srv/webapp
    health_path: /healthz
    protocol: uwsgi
  register: app_status
"""

RETURN = r"""
live:
  description: The live release (empty when none is).
  returned: always
  type: dict
  sample: {"id": "20261205T061500Z-0a1b2c3d4e", "version": "v1.1.0", "commit": "0a1b2c3d4e...",
           "since": "2026-12-05T06:15:09Z"}
previous:
  description: The previous release (empty when there is none).
  returned: always
  type: dict
lock:
  description: The deploy lock's owner (who and since when) while it is held, else empty.
  returned: always
  type: str
  sample: "alice@laptop since 2026-12-05T06:14:00Z"
disk:
  description: The filesystem of the app root, and the megabytes free on it.
  returned: always
  type: dict
  sample: {"mount": "/", "free_mb": 20480}
programs:
  description: Each supervisor program, its state and supervisor's note (pid and uptime while it runs).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "webapp-blue", "state": "RUNNING", "info": "pid 812, uptime 0:10:02"}]
health:
  description: The health path's answer through the live socket (its first line), or why there is none.
  returned: always
  type: dict
  sample: {"ok": true, "answer": "/healthz answered 200: {\"status\": \"ok\"}"}
maintenance:
  description: Whether the maintenance flag file exists (the front server serves the maintenance page); null
    without O(maintenance_file).
  returned: always
  type: bool
config:
  description: The names set (C(NAME)) or unset (C(NAME (unset))) in C(shared/env.local), never their values.
  returned: always
  type: list
  elements: str
  sample: ["FEATURE_X", "OLD_FLAG (unset)"]
lines:
  description: All of the above as lines to read.
  returned: always
  type: list
  elements: str
  sample: ["live v1.1.0 (release 20261205T061500Z-0a1b2c3d4e, since 2026-12-05T06:15:09Z), previous v1.0.0",
           "health OK (/healthz answered 200: ...); disk 20480 MB free on /; deploy lock free",
           "set by config.yml: FEATURE_X",
           "  webapp-blue RUNNING pid 812, uptime 0:10:02"]
"""

import datetime
import json
import os
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule


def release(link):
    """A release link's description (.webstack-release), empty when the link or the file is missing."""
    try:
        meta = json.loads((link / ".webstack-release").read_text())
    except (OSError, ValueError):
        return {}
    found = {key: meta.get(key, "") for key in ("id", "version", "commit")}
    since = datetime.datetime.fromtimestamp(os.lstat(link).st_mtime, datetime.timezone.utc)
    found["since"] = since.replace(microsecond=0, tzinfo=None).isoformat() + "Z"  # the link's last move
    return found


def free_space(root):
    mount = Path(root).resolve()
    while not os.path.ismount(mount):
        mount = mount.parent
    stats = os.statvfs(root)
    return {"mount": str(mount), "free_mb": stats.f_bavail * stats.f_frsize // 2**20}


def programs(module):
    """supervisorctl status, one dict a program; empty when supervisor is not there or does not answer."""
    supervisorctl = module.get_bin_path("supervisorctl")
    if not supervisorctl:
        return []
    out = module.run_command([supervisorctl, "status"])[1]  # exits 3 while a program is stopped
    found = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[1].isupper():
            found.append({"name": parts[0], "state": parts[1], "info": parts[2].strip() if len(parts) > 2 else ""})
    return found


def health(module, root, path, protocol, statuses):
    if not path:
        return {"ok": None, "answer": "serves nothing here"}
    probe, socket = Path(root) / "bin" / "webstack-probe", Path(root) / "run" / "live.sock"
    if not socket.exists():
        return {"ok": False, "answer": f"no live socket ({socket})"}
    argv = [str(probe), "--socket", str(socket), "--protocol", protocol, "--path", path, "--wait", "0"]
    for status in statuses:
        argv += ["--status", str(status)]
    rc, out, err = module.run_command(argv)
    lines = (out or err).strip().splitlines()
    answer = lines[0] if lines else f"webstack-probe exited {rc}"
    return {"ok": rc == 0, "answer": answer if len(answer) <= 100 else answer[:97] + "..."}


def config_names(path):
    """The names config.yml set or unset in env.local; its values are never read into the result."""
    try:
        text = path.read_text()
    except OSError:
        return []
    names = []
    for line in text.splitlines():
        if line.startswith("unset "):
            names.append(line[len("unset "):].strip() + " (unset)")
        elif "=" in line and not line.startswith("#"):
            names.append(line.split("=", 1)[0])
    return names


def readable(result):
    live, previous, health_, disk = result["live"], result["previous"], result["health"], result["disk"]
    lines = [f"live {live['version']} (release {live['id']}, since {live['since']})" if live else "live: none",
             f"previous {previous['version']} (release {previous['id']})" if previous else "previous: none"]
    state = {None: "-", True: "OK", False: "FAILING"}[health_["ok"]]
    lines.append(f"health {state} ({health_['answer']}); disk {disk['free_mb']} MB free on {disk['mount']}; "
                 f"deploy lock {'held by ' + result['lock'] if result['lock'] else 'free'}"
                 + {None: "", False: "; maintenance off", True: "; MAINTENANCE page on"}[result["maintenance"]])
    if result["config"]:
        lines.append(f"set by config.yml: {', '.join(result['config'])}")
    lines += [f"  {program['name']} {program['state']} {program['info']}".rstrip() for program in result["programs"]]
    return lines


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "required": True},
            "health_path": {"type": "str", "default": ""},
            "protocol": {"type": "str", "choices": ["http", "uwsgi"], "default": "http"},
            "health_statuses": {"type": "list", "elements": "int", "default": [200]},
            "maintenance_file": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    root = Path(module.params["root"])
    if not root.is_dir():
        module.fail_json(msg=f"{root} does not exist: the app was never deployed on this host (run site.yml)")
    owner = root / "deploy.lock" / "owner"
    lock = owner.read_text().strip() if owner.exists() else ""
    if not lock and owner.parent.exists():
        lock = "held, owner unknown"
    result = {
        "changed": False,
        "live": release(root / "current"),
        "previous": release(root / "previous"),
        "lock": lock,
        "maintenance": Path(module.params["maintenance_file"]).exists() if module.params["maintenance_file"] else None,
        "config": config_names(root / "shared" / "env.local"),
        "disk": free_space(root),
        "programs": programs(module),
        "health": health(module, root, module.params["health_path"], module.params["protocol"],
                         module.params["health_statuses"]),
    }
    module.exit_json(lines=readable(result), **result)


if __name__ == "__main__":
    main()
