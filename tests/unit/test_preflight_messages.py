"""What a role's preflight says to a user who got the inventory wrong, run on this machine before any change."""

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def preflight(tmp_path):
    def run(role, inventory="localhost,", **variables):
        play = [{"name": "Preflight", "hosts": "localhost", "connection": "local", "gather_facts": False,
                 "vars": {"ansible_python_interpreter": sys.executable, **variables},
                 "tasks": [{"ansible.builtin.include_role": {"name": f"pyops.webstack.{role}",
                                                              "tasks_from": "preflight"}}]}]
        playbook = tmp_path / "play.yml"
        playbook.write_text(json.dumps(play))
        proc = subprocess.run(["ansible-playbook", "-i", inventory, str(playbook)], capture_output=True, text=True,
                              check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
        return proc.returncode, proc.stdout + proc.stderr

    return run


def test_a_worker_host_for_an_app_without_celery_is_told_to_leave_the_worker_group_out(preflight):
    rc, output = preflight("celery", celery_app="")
    assert rc != 0
    assert "leave the worker group out of the inventory" in output, output


def test_a_malformed_celery_app_gets_the_general_message_only(preflight):
    rc, output = preflight("celery", celery_app="not a module")
    assert rc != 0
    assert "The Celery workers are described wrongly" in output and "leave the worker group out" not in output, output


@pytest.mark.parametrize("statuses, refused", [([200, 302], False), ([200, 500], True), ([], True)])
def test_health_statuses_outside_2xx_and_3xx_are_refused_before_any_change(preflight, statuses, refused):
    rc, output = preflight("python_app", python_app_repo="git@example.org:app.git",
                           python_app_health_path="/", python_app_health_statuses=statuses)
    assert (rc != 0) is refused, output
    if refused:
        assert f"python_app_health_statuses (2xx or 3xx, got {statuses})" in output, output


@pytest.mark.parametrize("variables, message", [
    ({"nginx_tls_certificate": "PEM", "nginx_tls_certificate_key": "KEY"},
     "nginx_acme is on and nginx_tls_certificate is given"),
    ({"nginx_server_names": ["shop.example.org", "*.shop.example.org"]},
     "nginx_server_names must list DNS names this host answers for, without wildcards (HTTP-01 cannot validate "
     "them) and without addresses; refused: *.shop.example.org"),
    ({"acme_email": "ops.example.org"}, "acme_email is not an e-mail address: ops.example.org"),
    ({"acme_key_type": "dsa"}, "acme_key_type is ecdsa or rsa (got dsa)"),
    # Nothing listens on port 9 here: the directory does not answer, and the message names the variable.
    ({}, "acme_directory (https://127.0.0.1:9/dir) does not answer as an ACME directory"),
])
def test_acme_settings_that_cannot_work_are_refused_naming_the_variable(preflight, variables, message):
    rc, output = preflight("nginx", nginx_acme=True, nginx_server_names=variables.pop("nginx_server_names",
                           ["shop.example.org"]), acme_directory="https://127.0.0.1:9/dir", **variables)
    assert rc != 0
    assert message in " ".join(output.split()), output


@pytest.mark.parametrize("variables, message", [
    ({"apache_tls_certificate": "PEM", "apache_tls_certificate_key": "KEY"},
     "apache_acme is on and apache_tls_certificate is given"),
    ({"apache_server_names": ["10.0.0.5"]}, "apache_server_names must list DNS names this host answers for"),
])
def test_apache_names_its_own_variables_for_acme(preflight, variables, message):
    rc, output = preflight("apache", apache_acme=True, acme_directory="https://127.0.0.1:9/dir", **variables)
    assert rc != 0
    assert message in " ".join(output.split()), output


@pytest.mark.parametrize("variables, refused", [
    ({}, False),
    ({"pgbackrest_repo_type": "s3"}, True),  # no bucket, endpoint, region or keys
    ({"pgbackrest_repo_type": "s3", "pgbackrest_s3_bucket": "b", "pgbackrest_s3_endpoint": "s3.example.org",
      "pgbackrest_s3_region": "r", "pgbackrest_s3_key": "k", "pgbackrest_s3_key_secret": "s"}, False),
    ({"pgbackrest_repo_type": "s3", "pgbackrest_s3_bucket": "b", "pgbackrest_s3_endpoint": "s3.example.org",
      "pgbackrest_s3_region": "r", "pgbackrest_s3_key": "k", "pgbackrest_s3_key_secret": "s",
      "pgbackrest_s3_uri_style": "virtual"}, True),
    ({"pgbackrest_repo_type": "nfs"}, True),
])
def test_a_backup_repository_that_cannot_work_is_refused_before_any_change(preflight, variables, refused):
    rc, output = preflight("pgbackrest", inventory="localhost,db1,", pgbackrest_db_host="db1",
                           pgbackrest_repo_host="localhost", pgbackrest_cipher_pass="p" * 24, **variables)
    assert (rc != 0) is refused, output
    if refused:
        assert f'pgbackrest_repo_type "{variables["pgbackrest_repo_type"]}" posix or s3' in output, output
