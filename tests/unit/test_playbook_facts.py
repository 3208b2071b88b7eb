"""playbooks/facts.yml, the first plays of every playbook, run against this machine as the only web host."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

FACTS = ROOT / "playbooks" / "facts.yml"


@pytest.fixture
def facts(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"web": {"hosts": {"web1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))

    def run(**extra_vars):
        # The network's facts only, as deploy.yml gathers them: a second, not ten.
        extra_vars = {"__webstack_facts_subset": ["!all", "!min", "network"], **extra_vars}
        proc = subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(FACTS), "--extra-vars", json.dumps(extra_vars)],
            capture_output=True, text=True, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
        return proc.returncode, proc.stdout + proc.stderr

    return run


def test_a_host_without_a_default_route_address_is_named_with_the_setting_to_give(facts):
    # As a host without iproute2 reports itself: the default route's facts are empty.
    rc, output = facts(ansible_default_ipv4={})
    assert rc != 0
    assert "web1 has no address on a default route" in output and "webstack_private_address" in output, output


def test_the_inventory_private_address_is_taken_first(facts):
    rc, output = facts(ansible_default_ipv4={}, webstack_private_address="192.0.2.10")
    assert rc == 0, output

