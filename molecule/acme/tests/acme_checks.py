"""What the acme scenario's tests read from a host."""

import json

from webstack_testing import served_certificate


def serial(address, root, name):
    return served_certificate(address, name, root)[0].serial_number


def state(host):
    return json.loads(host.run("webstack-acme status --json").stdout)[0]  # exit 1 while the last try failed
