"""Fixtures of the background scenario's tests: one testinfra host per container."""

import pytest

from background import DATA, WEB, WORKER, WORKERS
from estate import get_host


@pytest.fixture(scope="module")
def web1(inventory):
    """The web host (also a worker host); named as in the stack scenario, whose tests these were."""
    return get_host(inventory, WEB)


@pytest.fixture(scope="module")
def worker(inventory):
    """The worker host that serves no web requests."""
    return get_host(inventory, WORKER)


@pytest.fixture(scope="module")
def workers(inventory):
    return [get_host(inventory, name) for name in WORKERS]


@pytest.fixture(scope="module")
def data(inventory):
    return get_host(inventory, DATA)
