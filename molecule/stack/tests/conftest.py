"""Fixtures of the stack scenario's tests: one testinfra host per container that several modules use."""

import pytest

from estate import get_host
from stack import DATA, LB, LB2, WEB, WORKER


@pytest.fixture(scope="module")
def web1(inventory):
    return get_host(inventory, WEB[0])


@pytest.fixture(scope="module")
def worker(inventory):
    return get_host(inventory, WORKER)


@pytest.fixture(scope="module")
def data(inventory):
    return get_host(inventory, DATA)


@pytest.fixture(scope="module")
def lb(inventory):
    return get_host(inventory, LB)


@pytest.fixture(scope="module")
def lb2(inventory):
    return get_host(inventory, LB2)


@pytest.fixture(scope="module")
def webs(inventory):
    return [get_host(inventory, name) for name in WEB]
