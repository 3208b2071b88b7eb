"""Helpers shared by every scenario's testinfra tests.

The tests run under molecule's testinfra verifier, and just as well as plain pytest against a
converged scenario (the verifier is not a single point of failure):

    pytest --hosts=ansible://all \
        --ansible-inventory=$HOME/.cache/molecule/<project>/<scenario>/inventory molecule/<scenario>/tests

`make verify SCENARIO=<scenario>` runs exactly that.
"""

import json
import os
import subprocess
from pathlib import Path

import paramiko
import pytest
import yaml


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
def inventory(request):
    return str(_ephemeral_dir(request.config) / "inventory")


@pytest.fixture()
def address(host, harness):
    """The container's address on the scenario network, reachable from this machine."""
    return harness["harness_addresses"][host.backend.get_hostname()]


def ssh_login(address, username, *, key_file=None, password=None, command="id -un"):
    """Log in over SSH as a user would and run one command; raise paramiko's error when refused."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            address,
            username=username,
            key_filename=key_file,
            password=password,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
        _, stdout, _ = client.exec_command(command, timeout=20)
        return stdout.read().decode().strip()
    finally:
        client.close()


@pytest.fixture(scope="session")
def run_playbook(inventory):
    """Run a playbook of the scenario against the live containers; return (rc, output)."""

    def run(playbook, *, limit=None, extra_vars=None):
        argv = ["ansible-playbook", "-i", inventory, str(playbook)]
        if limit:
            argv += ["--limit", limit]
        if extra_vars:
            argv += ["--extra-vars", json.dumps(extra_vars)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        return result.returncode, result.stdout + result.stderr

    return run
