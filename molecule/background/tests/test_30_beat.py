"""Celery beat runs on exactly one worker host: the first of the worker group, or the one the inventory names.
The reference app's periodic task records which host's beat sent it, so a second beat would show."""

import re
import time
from pathlib import Path

from background import WEB, WORKER
from estate import sql, until

BEAT = "webapp-celery-beat"
PLAYBOOK = Path(__file__).resolve().parent.parent / "move-beat.yml"


def beat_programs(workers, seconds=30):
    """{host: state} of the beat program, for the worker hosts whose supervisor has one at all, once no beat is
    STARTING any more (supervisor says RUNNING after the program has stayed up for its startsecs)."""

    def read():
        states = {}
        for host in workers:
            for line in host.run("supervisorctl status").stdout.splitlines():
                fields = line.split()
                if fields and fields[0] == BEAT:
                    states[host.backend.get_hostname()] = fields[1]
        return states

    return until(read, lambda states: "STARTING" not in states.values(), seconds)


def last_heartbeat(data):
    return int(sql(data, "SELECT coalesce(max(id), 0) FROM heartbeat")[0][0])


def senders(data, after, sender, count=3, seconds=60):
    """{host: heartbeats} sent after heartbeat id `after`, once `sender` has sent `count` (or time is up)."""

    def read():
        rows = sql(data, f"SELECT sent_by, count(*) FROM heartbeat WHERE id > {after} GROUP BY sent_by")
        return {host: int(number) for host, number in rows}

    return until(read, lambda seen: seen.get(sender, 0) >= count, seconds)


def test_beat_runs_on_the_first_worker_host_alone(workers, worker, data):
    assert beat_programs(workers) == {WEB: "RUNNING"}
    assert not worker.file(f"/etc/supervisor/conf.d/{BEAT}.conf").exists
    seen = senders(data, last_heartbeat(data), WEB)
    assert set(seen) == {WEB} and seen[WEB] >= 3, seen
    done_by = sql(data, "SELECT DISTINCT done_by FROM heartbeat")
    assert done_by and {row[0] for row in done_by} <= {WEB, WORKER}


def test_a_limited_run_on_another_worker_host_does_not_start_a_second_beat(workers, run_playbook):
    # The beat host is the worker group's first host, not the play's: --limit must not move it.
    pid = workers[0].check_output(f"supervisorctl pid {BEAT}")
    rc, output = run_playbook(PLAYBOOK, limit=WORKER)
    assert rc == 0, output[-3000:]
    assert beat_programs(workers) == {WEB: "RUNNING"}
    assert workers[0].check_output(f"supervisorctl pid {BEAT}") == pid


def test_a_beat_host_outside_the_inventory_is_refused_before_any_change(workers, run_playbook):
    pid = workers[0].check_output(f"supervisorctl pid {BEAT}")
    rc, output = run_playbook(PLAYBOOK, extra_vars={"celery_beat_host": "no-such-host"})
    assert rc != 0
    assert "not a host of the inventory" in output, output[-3000:]
    assert re.search(r"failed=[1-9]", output) and not re.search(r"changed=[1-9]", output), output[-3000:]
    assert beat_programs(workers) == {WEB: "RUNNING"}
    assert workers[0].check_output(f"supervisorctl pid {BEAT}") == pid


def test_beat_moves_to_the_host_the_inventory_names_and_runs_there_alone(workers, data, run_playbook):
    try:
        rc, output = run_playbook(PLAYBOOK, extra_vars={"celery_beat_host": WORKER})
        assert rc == 0, output[-3000:]
        assert beat_programs(workers) == {WORKER: "RUNNING"}
        # A heartbeat the stopped beat sent just before it stopped has been done by now (the queue is idle).
        time.sleep(3)
        seen = senders(data, last_heartbeat(data), WORKER)
        assert set(seen) == {WORKER} and seen[WORKER] >= 3, seen
    finally:
        rc, output = run_playbook(PLAYBOOK)
    assert rc == 0, output[-3000:]
    assert beat_programs(workers) == {WEB: "RUNNING"}


def test_a_worker_stopped_by_hand_is_started_by_the_next_run_and_nothing_else_moves(workers, run_playbook):
    # The role reads every program's state once and starts only a program that does not run: the stopped worker
    # comes back, beat keeps its process, and the run after that changes nothing on the host.
    host = workers[1]
    name = host.backend.get_hostname()
    beat = workers[0].check_output(f"supervisorctl pid {BEAT}")
    host.check_output("supervisorctl stop webapp-celery-default")
    try:
        rc, output = run_playbook(PLAYBOOK)
        assert rc == 0, output[-3000:]
        assert re.search(rf"^{name}\s+: ok=\d+\s+changed=1\s", output, re.MULTILINE), output[-3000:]
        state = until(lambda: host.run("supervisorctl status webapp-celery-default").stdout.split()[1],
                      lambda now: now != "STARTING", 30)
        assert state == "RUNNING"
        assert workers[0].check_output(f"supervisorctl pid {BEAT}") == beat
        rc, output = run_playbook(PLAYBOOK)
        assert rc == 0, output[-3000:]
        assert re.search(rf"^{name}\s+: ok=\d+\s+changed=0\s", output, re.MULTILINE), output[-3000:]
    finally:
        host.run("supervisorctl start webapp-celery-default")
