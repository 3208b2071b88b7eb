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
    hosts = {"web1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}

    def run(more_hosts=None, groups=None, **extra_vars):
        """groups: more groups of the inventory, each a list of the web group's hosts."""
        more = {name: {"hosts": {host: {} for host in members}} for name, members in (groups or {}).items()}
        inventory.write_text(json.dumps({"web": {"hosts": {**hosts, **(more_hosts or {})}}, **more}))
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


# A second web host whose facts cannot be read (its Python is missing), as a host that is down looks by then.
SILENT = {"web2": {"ansible_connection": "local", "ansible_python_interpreter": "/nonexistent/python3"}}


def test_a_host_that_does_not_answer_stops_the_run_naming_it_and_the_limit_that_leaves_it_out(facts):
    rc, output = facts(more_hosts=SILENT)
    assert rc != 0
    assert "web2 did not answer (unreachable, or its facts could not be read): nothing was changed on any host. " \
        "Bring it back, or leave it out of this run with --limit 'all:!web2'" in output, output
    assert "web1                       : ok=" in output  # web1 answered; the stop came from the check


def test_check_yml_goes_on_past_a_host_that_does_not_answer(facts):
    rc, output = facts(more_hosts=SILENT, __webstack_facts_all_needed=False)
    assert "did not answer" not in output
    assert "Take the inventory's private address" in output and "ok: [web1]" in output, output


def test_a_backup_host_that_is_the_database_host_or_has_no_database_is_refused_before_any_host(facts):
    rc, output = facts(groups={"db": ["web1"], "backup": ["web1"]})
    assert rc != 0
    assert "hosts in both backup and db: web1 (backups kept on the database host are lost with it)" in output, output
    rc, output = facts(groups={"backup": ["web1"]})
    assert rc != 0
    assert "group backup needs a host in group db" in output, output
    assert "Gather the facts" not in output
