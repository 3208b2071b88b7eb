"""Fixtures of the acme scenario's tests."""

import subprocess

import pytest

# Each host's front server, names (host_vars in molecule.yml) and the variable that sets them, and a name the
# network also resolves to it (an alias) for the test that adds one.
SITES = {
    "acme-nginx": {"proxy": "nginx", "variable": "nginx_server_names",
                   "names": ["shop.webstack.test", "www.shop.webstack.test"], "more": "api.shop.webstack.test"},
    "acme-apache": {"proxy": "apache", "variable": "apache_server_names", "names": ["blog.webstack.test"],
                    "more": "www.blog.webstack.test"},
}


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
