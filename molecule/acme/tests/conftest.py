"""Fixtures of the acme scenario's tests."""

import subprocess

import pytest
from acme_checks import SITES


@pytest.fixture(scope="session")
def root(harness):
    """pebble's root certificate from its management API, read once: test_90_ca_down.py restarts pebble, which then
    makes another."""
    return subprocess.run(
        ["docker", "exec", harness["harness_git_container"], "curl", "-sf", "--cacert", "/etc/pebble/tls/cert.pem",
         "https://localhost:15000/roots/0"], capture_output=True, text=True, check=True).stdout


@pytest.fixture()
def site(host):
    return SITES[host.backend.get_hostname()]
