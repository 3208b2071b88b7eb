"""What is live on an app host: read from the outside, as an operator would."""

import json
import time

ROOT = "/srv/webapp"


def protocol(host):
    return "uwsgi" if "uwsgi" in host.backend.get_hostname() else "http"


def probe(host, socket="live.sock", path="/healthz"):
    """What the app answers on one of its sockets: (status line, JSON body or None)."""
    result = host.run(f"{ROOT}/bin/webstack-probe --socket={ROOT}/run/{socket} --protocol={protocol(host)} --path={path}")
    text = result.stdout.strip()
    body = text.split(": ", 1)[1] if ": " in text else ""
    try:
        return result.rc, json.loads(body)
    except ValueError:
        return result.rc, None


def live_version(host):
    rc, body = probe(host)
    assert rc == 0, f"the live socket does not answer healthy: {body}"
    return body["version"]


def live_slot(host):
    return host.file(f"{ROOT}/run/live.sock").linked_to.rsplit("/", 1)[1].removesuffix(".sock")


def current_release(host):
    return host.file(f"{ROOT}/current").linked_to.rsplit("/", 1)[1]


def releases(host):
    return set(host.check_output(f"ls {ROOT}/releases").split())


def history(host):
    lines = host.file(f"{ROOT}/history.tsv").content_string.splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def slot_processes(host, slot):
    """PIDs of every process of one colour's app server (master and workers)."""
    master = host.check_output(f"supervisorctl pid webapp-{slot}")
    assert master.isdigit() and master != "0", f"webapp-{slot} is not running"
    return [pid for pid in host.check_output(f"ps -e -o pid=,pgid= | awk '$2 == {master} {{print $1}}'").split()]


def kill_master_and_wait_for_supervisor(host, slot, seconds=90):
    """kill -9 the colour's master, then wait until supervisor has started a new one that answers healthy.

    gunicorn's workers outlive a killed master for a while (about 15 s here) and answer on the socket they hold
    until the new master binds its own: an answer counts only once none of the old master's processes is left.
    """
    master = host.check_output(f"supervisorctl pid webapp-{slot}")
    host.run(f"kill -9 {master}")
    for _ in range(seconds):
        now = host.run(f"supervisorctl pid webapp-{slot}").stdout.strip()
        orphans = host.run(f"ps -e -o pgid= | awk '$1 == {master}'").stdout.split()
        if now.isdigit() and now not in ("0", master) and not orphans and probe(host)[0] == 0:
            return now
        time.sleep(1)
    raise AssertionError(f"webapp-{slot} did not come back after kill -9 of {master}")
