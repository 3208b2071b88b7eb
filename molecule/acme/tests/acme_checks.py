"""What the acme scenario's tests read from a host."""

import json

from webstack_testing import served_certificate

# Each host's front server, names (host_vars in molecule.yml) and the variable that sets them, and a name the
# network also resolves to it (an alias) for the test that adds one.
SITES = {
    "acme-nginx": {"proxy": "nginx", "variable": "nginx_server_names",
                   "names": ["shop.webstack.test", "www.shop.webstack.test"], "more": "api.shop.webstack.test"},
    "acme-apache": {"proxy": "apache", "variable": "apache_server_names", "names": ["blog.webstack.test"],
                    "more": "www.blog.webstack.test"},
}


def serial(address, root, name):
    return served_certificate(address, name, root)[0].serial_number


def state(host):
    return json.loads(host.run("webstack-acme status --json").stdout)[0]  # exit 1 while the last try failed
