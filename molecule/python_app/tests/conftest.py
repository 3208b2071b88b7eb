"""Helpers for the python_app scenario: deploy a version to one host, read what is live."""

from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy.yml"


@pytest.fixture()
def deploy(host, run_playbook):
    """Deploy to this host alone with the scenario's deploy play and some extra vars; return (rc, output)."""

    def run(version, verbosity=0, **extra):
        return run_playbook(
            DEPLOY, limit=host.backend.get_hostname(),
            extra_vars={"python_app_version": version, **extra}, verbosity=verbosity,
        )

    return run
