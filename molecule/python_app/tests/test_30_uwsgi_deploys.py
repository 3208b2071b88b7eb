"""Deploys on the uWSGI host: a new version goes live through the uwsgi protocol socket, a broken one never."""

import re
import uuid

import pytest
import testinfra

from app_state import (
    ROOT, current_release, kill_master_and_wait_for_supervisor, live_slot, live_version, probe, releases,
    slot_processes,
)
from webstack_testing import app_log



@pytest.fixture(scope="module")
def host(inventory):
    """Only the app-uwsgi host (a module's testinfra_hosts would be overridden by --hosts)."""
    return testinfra.get_host("ansible://app-uwsgi", ansible_inventory=inventory)


def test_uwsgi_switches_to_the_new_release(host, deploy):
    before = live_slot(host)
    rc, output = deploy("v1.1.0")
    assert rc == 0, output[-3000:]
    assert live_version(host) == "1.1.0"
    assert live_slot(host) != before
    release = f"{ROOT}/releases/{current_release(host)}"
    for pid in slot_processes(host, live_slot(host)):
        assert host.check_output(f"runuser -u deploy -- readlink /proc/{pid}/cwd") == release
    ini = host.file("/etc/webstack/webapp/uwsgi.ini").content_string
    for setting in ("master = true", "processes = 4", "threads = 2", "die-on-term = true", "need-app = true"):
        assert setting in ini


def test_uwsgi_socket_queues_the_connections_the_role_sets(host):
    # uWSGI's own default is 100: under load the queue fills and nginx answers 502 (EAGAIN). The kernel's view of
    # the live colour's listening socket: ss shows a listener's backlog as its Send-Q, just before its path.
    sock = f"{ROOT}/run/{live_slot(host)}.sock"
    lines = [line.split() for line in host.check_output("ss -xlnH").splitlines() if f" {sock} " in f"{line} "]
    assert len(lines) == 1, host.check_output("ss -xlnH")
    assert lines[0][lines[0].index(sock) - 1] == "2048"
    assert "listen backlog is limited to 2048 connections" in app_log(host)


def test_a_listen_queue_over_the_kernel_limit_is_refused_before_anything_changes(host, deploy):
    limit = int(host.file("/proc/sys/net/core/somaxconn").content_string)
    live, slot, before = current_release(host), live_slot(host), releases(host)
    ini = host.file("/etc/webstack/webapp/uwsgi.ini").content_string
    rc, output = deploy("v2.0.0", uwsgi_listen=limit + 1)
    assert rc != 0
    assert f"net.core.somaxconn is {limit}" in output, output[-3000:]
    assert host.file("/etc/webstack/webapp/uwsgi.ini").content_string == ini
    assert releases(host) == before
    assert (current_release(host), live_slot(host), live_version(host)) == (live, slot, "1.1.0")


def test_uwsgi_logs_no_line_per_request_by_default(host):
    marker = uuid.uuid4().hex
    assert probe(host, path=f"/healthz?probe={marker}")[0] == 0
    content = app_log(host)
    assert "spawned uWSGI worker" in content  # the colour's own log, where uWSGI's request lines would be...
    assert marker not in content  # ...has none: the proxy in front logs every request


def test_uwsgi_release_whose_health_fails_never_goes_live(host, deploy):
    live, slot = current_release(host), live_slot(host)
    rc, output = deploy("v1.3.0-broken-health", python_app_health_timeout=8)
    assert rc != 0
    assert (current_release(host), live_slot(host), live_version(host)) == (live, slot, "1.1.0")
    # Without a line per request, server errors are still logged: the refused colour's log has its 503s.
    refused = "green" if slot == "blue" else "blue"
    log = host.file(f"/var/log/supervisor/webapp-{refused}.log").content_string
    assert re.search(r"GET /healthz.* 503\)", log), log[-2000:]


def test_an_app_server_without_its_config_is_refused_before_anything_changes(host, deploy):
    # This host's playbooks ran the uwsgi role only: asking python_app for gunicorn, without gunicorn's role,
    # must stop before a release is built, not at the switch.
    live, slot, before = current_release(host), live_slot(host), releases(host)
    rc, output = deploy("v2.0.0", python_app_server="gunicorn", test_without_server_role=True)
    assert rc != 0
    assert "/etc/webstack/webapp/gunicorn.conf.py does not exist" in output, output[-3000:]
    assert releases(host) == before
    assert (current_release(host), live_slot(host), live_version(host)) == (live, slot, "1.1.0")


def test_uwsgi_kill_9_of_the_master_is_repaired(host):
    kill_master_and_wait_for_supervisor(host, live_slot(host))


def stopped(colour):
    """The module's result key `stopped` as -v shows it (YAML or JSON results)."""
    return rf'"?stopped"?: (?:"{colour}"|{colour})(?:\W|$)'


def supervisor_state(host, slot):
    return host.check_output(f"supervisorctl status webapp-{slot} || true").split()[1]


def test_an_old_colour_left_running_is_stopped_by_the_next_run_with_nothing_to_switch(host, deploy):
    # deploy.yml switches web hosts with python_app_stop_old_colour false, then stops the old colours all at once by
    # running the switch again: that second run has nothing to switch and only stops the colour that does not serve.
    old = live_slot(host)
    rc, output = deploy("v2.0.0", python_app_stop_old_colour=False)
    assert rc == 0, output[-3000:]
    new = live_slot(host)
    assert (new != old, live_version(host)) == (True, "2.0.0")
    assert supervisor_state(host, old) == "RUNNING"
    assert probe(host, socket=f"{old}.sock")[0] == 0  # the previous release, ready to be switched back to
    rc, output = deploy("v2.0.0", verbosity=1)
    assert rc == 0, output[-3000:]
    assert re.search(stopped(old), output), output[-3000:]
    assert (live_slot(host), live_version(host), supervisor_state(host, new)) == (new, "2.0.0", "RUNNING")
    assert supervisor_state(host, old) == "STOPPED"
    assert "autostart=false" in host.file(f"/etc/supervisor/conf.d/webapp-{old}.conf").content_string
    rc, output = deploy("v2.0.0", verbosity=1)
    assert rc == 0, output[-3000:]
    assert re.search(stopped("''|"), output) and not re.search(stopped(old), output), output[-3000:]
