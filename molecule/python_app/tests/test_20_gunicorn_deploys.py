"""Deploys on the gunicorn host: zero downtime under load, refusals, the lock, pruning, worker classes."""

import time
import uuid

import pytest
import testinfra

from app_state import (
    ROOT, current_release, history, kill_master_and_wait_for_supervisor, live_slot, live_version, probe,
    releases, slot_processes,
)
from webstack_testing import Load, Webhook, app_log



@pytest.fixture(scope="module")
def host(inventory):
    """Only the app-gunicorn host (a module's testinfra_hosts would be overridden by --hosts)."""
    return testinfra.get_host("ansible://app-gunicorn", ansible_inventory=inventory)

# About 200 requests a second until the test stops it (at most 240,000 requests or 1200 s: bounds for a stuck
# run, not thresholds; a busy CI machine once took longer than 300 s to build and switch).
LOAD = ["--socket=/srv/webapp/run/live.sock", "--path=/healthz", "--requests=240000", "--seconds=1200",
        "--concurrency=8", "--rate=200"]


def test_deploy_under_load_loses_no_request(host, deploy):
    container = host.backend.get_hostname()
    before = live_slot(host)
    load = Load(container, *LOAD)
    rc, output = deploy("v1.1.0")
    time.sleep(2)
    result = load.stop()
    assert rc == 0, output[-3000:]
    assert result["sent"] >= 200, "too little load to say anything"
    assert result["connection_errors"] == 0, result["first_errors"]
    assert result["non_2xx"] == 0, result["statuses"]
    # The load really spanned the switch: it saw both versions.
    assert set(result["versions"]) == {"1.0.0", "1.1.0"}
    assert live_version(host) == "1.1.0"
    assert live_slot(host) != before
    assert "RUNNING" not in host.run(f"supervisorctl status webapp-{before}").stdout


def test_every_worker_runs_the_new_release_after_the_switch(host):
    release = f"{ROOT}/releases/{current_release(host)}"
    for pid in slot_processes(host, live_slot(host)):
        assert host.check_output(f"runuser -u deploy -- readlink /proc/{pid}/cwd") == release


def test_gunicorn_writes_no_access_log_by_default(host):
    marker = uuid.uuid4().hex
    assert probe(host, path=f"/healthz?probe={marker}")[0] == 0
    content = app_log(host)
    assert "Booting worker" in content  # the colour's own log, where its access lines would be...
    assert marker not in content  # ...has none: the proxy in front logs every request
    assert "accesslog = None" in host.file("/etc/webstack/webapp/gunicorn.conf.py").content_string


def test_plain_restart_does_lose_requests(host):
    # Negative control: the same load through a stop/start restart must see failures,
    # which shows that the test above can see loss.
    load = Load(host.backend.get_hostname(), *LOAD)
    host.run(f"supervisorctl restart webapp-{live_slot(host)}")
    time.sleep(3)
    result = load.stop()
    assert result["connection_errors"] + result["non_2xx"] > 0, result
    assert live_version(host) == "1.1.0"


def test_release_whose_tests_fail_is_refused_before_anything_changes(host, deploy):
    live, slot, before = current_release(host), live_slot(host), releases(host)
    rc, output = deploy("v1.2.0-broken-tests")
    assert rc != 0
    assert "Run the app's tests" in output and "nothing live changed" in output
    assert "this release must not be deployed" in output
    assert (current_release(host), live_slot(host), live_version(host)) == (live, slot, "1.1.0")
    (new,) = releases(host) - before
    assert host.file(f"{ROOT}/releases/{new}/.webstack-status").content_string.startswith("failed")
    assert history(host)[-1][2] == "v1.2.0-broken-tests" and history(host)[-1][5].startswith("failed")


def test_release_whose_health_fails_is_refused_and_never_goes_live(host, deploy):
    live, slot = current_release(host), live_slot(host)
    idle = "green" if slot == "blue" else "blue"
    rc, output = deploy("v1.3.0-broken-health", python_app_health_timeout=8)
    assert rc != 0
    assert "health path" in output and '"status":"failing"' in output
    assert (current_release(host), live_slot(host), live_version(host)) == (live, slot, "1.1.0")
    assert "RUNNING" not in host.run(f"supervisorctl status webapp-{idle}").stdout
    assert history(host)[-1][5].startswith("failed")


def test_release_that_fails_after_the_switch_is_switched_back(host, deploy):
    # v2.1.0-flaky-health answers its first health check (on its own socket), then fails through the live one.
    live, slot = current_release(host), live_slot(host)
    idle = "green" if slot == "blue" else "blue"
    with Webhook(host) as webhook:
        rc, output = deploy("v2.1.0-flaky-health", python_app_notify_url=webhook.url)
        calls = webhook.calls()
    assert rc != 0
    assert "switched back" in output
    assert (current_release(host), live_slot(host), live_version(host)) == (live, slot, "1.1.0")
    assert "RUNNING" not in host.run(f"supervisorctl status webapp-{idle}").stdout
    failed = history(host)[-1]
    assert failed[5] == "failed: Check the health path again through the live socket (switched back)"
    # The webhook heard of it once, with the reason and the release serving again; its URL stays out of the output.
    assert [call["event"] for call in calls] == ["switched back"], calls
    assert (calls[0]["host"], calls[0]["release"], calls[0]["commit"], calls[0]["serving"]) == (
        "app-gunicorn", failed[0], failed[1], live)
    assert calls[0]["reason"].startswith("Check the health path again through the live socket: "), calls
    assert webhook.url not in output


def test_a_held_lock_stops_a_second_deploy_and_names_its_owner(host, deploy):
    host.run(f"install -d -o deploy {ROOT}/deploy.lock && echo 'alice@laptop since 2026-11-21T08:00:00Z' > {ROOT}/deploy.lock/owner")
    try:
        live = current_release(host)
        rc, output = deploy("v2.0.0")
        assert rc != 0
        assert "alice@laptop" in output and "stale" in output
        assert current_release(host) == live
    finally:
        host.run(f"rm -rf {ROOT}/deploy.lock")


def test_gevent_and_tornado_workers_serve_the_health_path(host, deploy):
    for worker_class, package in (("gevent", "gevent"), ("tornado", "tornado")):
        rc, output = deploy("v1.1.0", gunicorn_worker_class=worker_class)
        assert rc == 0, output[-3000:]
        assert live_version(host) == "1.1.0"
        release = current_release(host)
        assert f'worker_class = "{worker_class}"' in host.file("/etc/webstack/webapp/gunicorn.conf.py").content_string
        assert host.run(f"{ROOT}/releases/{release}/.venv/bin/python -c 'import {package}'").rc == 0
        assert probe(host, path="/")[0] == 0


def test_refused_server_config_never_reaches_the_live_colour(host, deploy):
    live, slot = current_release(host), live_slot(host)
    # The master cannot start: a short health timeout is enough to see it refused.
    rc, output = deploy(
        "v1.1.0", gunicorn_extra_settings={"worker_class": '"no.such.Worker"'}, python_app_health_timeout=8)
    assert rc != 0 and "health path" in output
    assert "no.such.Worker" in host.file("/etc/webstack/webapp/gunicorn.conf.py").content_string
    # Supervisor restarts the live colour (as after a crash): it comes back with the config it was checked with.
    host.run(f"supervisorctl restart webapp-{slot}")
    for _ in range(30):
        if probe(host)[0] == 0:
            break
        time.sleep(1)
    assert (current_release(host), live_version(host)) == (live, "1.1.0")
    assert "no.such.Worker" not in host.file(f"/etc/webstack/webapp/{slot}-gunicorn.conf.py").content_string


def test_kill_9_of_the_master_is_repaired_by_supervisor(host):
    kill_master_and_wait_for_supervisor(host, live_slot(host))
    assert live_version(host) == "1.1.0"


def test_keep_releases_prunes_but_never_the_live_or_previous(host, deploy):
    rc, output = deploy("v2.0.0", python_app_keep_releases=2)
    assert rc == 0, output[-3000:]
    assert live_version(host) == "2.0.0"
    current = current_release(host)
    previous = host.file(f"{ROOT}/previous").linked_to.rsplit("/", 1)[1]
    assert releases(host) == {current, previous}
    for release in releases(host):
        assert host.file(f"{ROOT}/releases/{release}/.webstack-status").content_string.strip() == "ready"


def test_release_history_tells_what_happened(host, tag_commit):
    rows = history(host)
    results = [row[5] for row in rows]
    assert results.count("deployed") >= 4
    assert sum(result.startswith("failed") for result in results) >= 2
    first = rows[0]
    assert first[1] == tag_commit("v1.0.0") and first[2] == "v1.0.0"
    assert all(len(row) == 6 and row[4] for row in rows)
    # One command to read it, as a table.
    table = host.check_output(f"{ROOT}/bin/webstack-history").splitlines()
    assert table[0].split() == ["release", "commit", "version", "time", "by", "result"]
    assert table[-1].split()[:3] == rows[-1][:3]
