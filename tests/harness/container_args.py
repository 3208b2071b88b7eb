#!/usr/bin/env python3
"""Print `docker run` arguments for a systemd test container, from molecule/shared/vars/containers.yml.

    docker run -d --name NAME $(tests/harness/container_args.py debian12)

The scenarios (molecule/shared/create.yml), the package check and the demo all start containers from
that one file, so a user on another Docker host adapts it once.
"""

import shlex
import sys
from pathlib import Path

import yaml

SETTINGS = Path(__file__).resolve().parents[2] / "molecule" / "shared" / "vars" / "containers.yml"


def docker_run_args(image_key, settings=None):
    if settings is None:
        settings = yaml.safe_load(SETTINGS.read_text(encoding="utf-8"))
    container = settings["pyops_container"]
    args = []
    args += [f"--cap-add={cap}" for cap in container["capabilities"]]
    args += [f"--security-opt={opt}" for opt in container["security_opts"]]
    args += [f"--volume={volume}" for volume in container["volumes"]]
    args += [f"--tmpfs={mount}" for mount in container["tmpfs"]]
    args += [f"--stop-signal={container['stop_signal']}"]
    args += [settings["pyops_images"][image_key], *shlex.split(container["command"])]
    return args


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(shlex.join(docker_run_args(sys.argv[1])))
