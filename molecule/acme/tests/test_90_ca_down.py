"""The CA down during a renewal, after every other test of the scenario: pebble, started again, has forgotten its
accounts and made a new root."""

import subprocess

from acme_checks import serial, state
from webstack_testing import acme_all_due


def test_the_ca_down_during_a_renewal_keeps_the_old_certificate_serving_and_is_reported(
        host, harness, address, root, site):
    before = serial(address, root, site["names"][0])
    ca = harness["harness_git_container"]  # pebble runs in the git server's container
    subprocess.run(["docker", "exec", ca, "systemctl", "stop", "pebble"], check=True)
    try:
        with acme_all_due(host):
            renewal = host.run("systemctl start webstack-acme.service")
    finally:
        subprocess.run(["docker", "exec", ca, "systemctl", "start", "pebble"], check=True)
    assert renewal.rc != 0
    assert serial(address, root, site["names"][0]) == before
    outcome = state(host)
    assert outcome["result"] == "failed" and outcome["last_renewal"]["result"] == "failed"
    assert "certbot failed" in outcome["message"], outcome
    assert "webapp: failed" in host.run("webstack-acme status").stdout
