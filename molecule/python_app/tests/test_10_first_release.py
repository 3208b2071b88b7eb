"""The first release, on both app servers: what is live, where, as whom, and what is kept private."""

from pathlib import Path

import yaml
from app_state import ROOT, current_release, history, live_slot, live_version, slot_processes

SECRET = "pyops-test-secret-7c1e9a"
ROLE_VARS = Path(__file__).resolve().parents[3] / "roles" / "python_app" / "vars" / "main.yml"


def test_first_release_is_live_on_one_colour(host):
    assert live_version(host) == "1.0.0"
    slot = live_slot(host)
    other = "green" if slot == "blue" else "blue"
    assert host.run(f"supervisorctl status webapp-{slot}").stdout.split()[1] == "RUNNING"
    assert "RUNNING" not in host.run(f"supervisorctl status webapp-{other}").stdout


def test_release_layout_and_metadata(host, tag_commit):
    release = current_release(host)
    assert release.endswith("-" + tag_commit("v1.0.0")[:10])  # time, then the commit of v1.0.0
    meta = host.file(f"{ROOT}/releases/{release}/.webstack-release").content_string
    assert '"version": "v1.0.0"' in meta
    assert host.file(f"{ROOT}/releases/{release}/.webstack-status").content_string.strip() == "ready"
    instance = host.file(f"{ROOT}/releases/{release}/instance")
    assert instance.is_symlink and instance.linked_to == f"{ROOT}/shared/instance"
    # The release command (createdb) ran: the SQLite file lives in shared/, outside any release.
    assert host.file(f"{ROOT}/shared/instance/webapp.sqlite3").exists


def test_every_app_process_runs_the_live_release_as_the_deploy_user(host):
    release = f"{ROOT}/releases/{current_release(host)}"
    pids = slot_processes(host, live_slot(host))
    assert len(pids) >= 2  # a master and its workers
    for pid in pids:
        assert host.check_output(f"runuser -u deploy -- readlink /proc/{pid}/cwd") == release
        assert host.check_output(f"ps -o user= -p {pid}") == "deploy"
    # ...and from the release's own virtualenv.
    cmdline = host.check_output(f"tr '\\0' ' ' < /proc/{pids[0]}/cmdline")
    assert f"{release}/.venv/bin/" in cmdline


def test_app_server_listens_on_no_network_port(host):
    listeners = host.check_output("ss -Hltnp")
    assert "gunicorn" not in listeners and "uwsgi" not in listeners
    sock = host.file(f"{ROOT}/run/{live_slot(host)}.sock")
    assert sock.is_socket and sock.mode & 0o007 == 0  # nobody outside the app's group
    assert host.file(f"{ROOT}/run").mode == 0o750


def test_secrets_live_only_in_the_env_file(host):
    env = host.file(f"{ROOT}/shared/env")
    assert (env.user, env.group, env.mode) == ("deploy", "deploy", 0o640)
    assert f"SECRET_KEY={SECRET}" in env.content_string
    assert host.run(f"grep -rl {SECRET} /etc/supervisor /srv/webapp/releases /srv/webapp/history.tsv").rc == 1


def test_secret_value_appears_in_no_ansible_output(host, deploy):
    # A run with -vv that rewrites the env file (a new secret) and switches: the value must not show.
    rotated = SECRET + "-rotated"
    rc, output = deploy("v1.0.0", verbosity=2, python_app_secrets={"SECRET_KEY": rotated})
    assert rc == 0, output[-3000:]
    assert rotated not in output and SECRET not in output
    assert f"SECRET_KEY={rotated}" in host.file(f"{ROOT}/shared/env").content_string
    # The changed environment went live through a switch, without a new release.
    assert history(host)[-1][5] == "restarted"
    # The next deploy (the deploy tests' first) writes the scenario's secret back with its new release.


def test_supervisor_socket_is_for_root_and_the_deploy_group_only(host):
    sock = host.file("/run/supervisor.sock")
    assert (sock.user, sock.group, sock.mode) == ("root", "deploy", 0o770)
    # The deploy user can talk to supervisor (rc 3: a stopped colour is "not running")...
    assert "webapp-" in host.run("runuser -u deploy -- supervisorctl status").stdout
    # ...any other user cannot.
    refused = host.run("runuser -u nobody -- supervisorctl status")
    assert refused.rc != 0 and "Permission denied" in refused.stdout + refused.stderr


def test_a_uv_of_another_version_is_installed_again_by_the_next_deploy(host, deploy):
    uv = "/opt/pyops-webstack/tools/bin/uv"
    pinned = yaml.safe_load(ROLE_VARS.read_text(encoding="utf-8"))["__python_app_uv_version"]
    assert host.check_output(f"{uv} --version").split()[1] == pinned
    # A stand-in that answers another version, as a hand-installed or damaged uv would; pip's own record still says
    # the pinned version is installed, so only the role's check of the binary itself can notice.
    host.run_expect([0], f"cp {uv} /root/uv.kept && printf '#!/bin/sh\\necho uv 0.0.1\\n' > {uv}")
    try:
        rc, output = deploy("v1.0.0")
        assert rc == 0, output[-3000:]
        assert host.check_output(f"{uv} --version").split()[1] == pinned
        assert live_version(host) == "1.0.0"
    finally:
        host.run(f"test -x {uv} && {uv} --version | grep -q 0.0.1 && cp /root/uv.kept {uv}; rm -f /root/uv.kept")
