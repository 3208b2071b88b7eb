"""Fixtures shared by every scenario's testinfra tests (helpers live in webstack_testing.py).

The tests run under molecule's testinfra verifier, and just as well as plain pytest against a
converged scenario (the verifier is not a single point of failure):

    make converge SCENARIO=<scenario>
    pytest --hosts=ansible://all \
        --ansible-inventory=.cache/molecule/<scenario>/inventory molecule/<scenario>/tests

`make verify SCENARIO=<scenario>` runs exactly that (.cache/molecule/<scenario> points at molecule's state).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

# Plain asserts in the shared helper modules report their values too.
pytest.register_assert_rewrite("proxy_tests", "webstack_testing", "app_state", "estate")


def _ephemeral_dir(config):
    inventory = config.getoption("ansible_inventory", None)
    if inventory:
        path = Path(inventory).resolve()
        return path.parent if path.name in ("inventory", "ansible_inventory.yml") else path.parent
    if os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY"):
        return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    raise pytest.UsageError("pass --ansible-inventory=<molecule ephemeral dir>/inventory")


@pytest.fixture(scope="session")
def harness(request):
    """What molecule/shared/create.yml recorded: git URLs, keys, container addresses."""
    path = _ephemeral_dir(request.config) / "harness.yml"
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def ephemeral_dir(request):
    return _ephemeral_dir(request.config)


@pytest.fixture(scope="session")
def tag_commit(ephemeral_dir):
    """The commit id of a tag of the reference app's repository, as molecule/shared/create.yml published it."""

    def commit(tag):
        return subprocess.run(
            ["git", "-C", str(ephemeral_dir / "webapp.git"), "rev-parse", f"{tag}^{{commit}}"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()

    return commit


@pytest.fixture(scope="session")
def inventory(ephemeral_dir):
    return str(ephemeral_dir / "inventory")


@pytest.fixture()
def address(host, harness):
    """The container's address on the scenario network, reachable from this machine."""
    return harness["harness_addresses"][host.backend.get_hostname()]


@pytest.fixture(scope="session")
def run_playbook(inventory, ephemeral_dir):
    """Run a playbook of the scenario against the live containers; return (rc, output).

    It runs as molecule runs converge (the scenario's ansible.cfg and state folder), also under plain pytest.
    """
    env = dict(os.environ, MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral_dir), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    if (ephemeral_dir / "ansible.cfg").exists():
        env["ANSIBLE_CONFIG"] = str(ephemeral_dir / "ansible.cfg")

    def run(playbook, *, limit=None, extra_vars=None, verbosity=0, tags=None, more_inventory=None):
        argv = ["ansible-playbook", "-i", inventory, str(playbook)] + (["-" + "v" * verbosity] if verbosity else [])
        if more_inventory:
            argv += ["-i", str(more_inventory)]
        if limit:
            argv += ["--limit", limit]
        if tags:
            argv += ["--tags", tags]
        if extra_vars:
            argv += ["--extra-vars", json.dumps(extra_vars)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=1200, check=False, env=env)
        return result.returncode, result.stdout + result.stderr

    return run
