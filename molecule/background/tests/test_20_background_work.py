"""Background work is never lost: worker restarts, a killed worker, a restarted broker; backups restore."""

import time
from pathlib import Path

from estate import post_job, sql, until, wait_for_job, worker_pids


ENQUEUE = (
    "import json, ssl, sys, urllib.request\n"
    "context = ssl._create_unverified_context()\n"
    "for n in range(int(sys.argv[2])):\n"
    "    body = json.dumps({'key': f'{sys.argv[1]}-{n}', 'delay': 0.5}).encode()\n"
    "    request = urllib.request.Request('https://localhost/jobs', body, {'Content-Type': 'application/json'})\n"
    "    assert urllib.request.urlopen(request, context=context).status == 202\n"
)


def counts(data, prefix):
    rows = sql(data, f"SELECT count(*) FILTER (WHERE status = 'done'), coalesce(max(runs), 0), count(*) "
                     f"FROM job WHERE key LIKE '{prefix}-%'")
    done, max_runs, total = (int(value) for value in rows[0])
    return done, max_runs, total


def test_200_tasks_complete_exactly_once_across_a_worker_restart(web1, worker, data):
    web1.check_output(f"cat > /tmp/enqueue.py <<'PY'\n{ENQUEUE}PY")
    # Sent one after another, which took about 8 s here; two worker hosts with 2 processes each do 8 of these
    # tasks a second, so most are still queued when the sending ends (with 0.2 s tasks, 156 of the 200 were
    # already done by then in a first run: too close to all of them for the restart to land mid-way).
    web1.check_output("python3 /tmp/enqueue.py restart 200")
    # Restart the workers the way a deploy does (TERM: warm shutdown) while tasks are still queued.
    until(lambda: counts(data, "restart"), lambda now: now[0] >= 20, 60, 0.5)
    before = worker_pids(worker)
    worker.check_output("supervisorctl restart webapp-celery-default")
    assert worker_pids(worker) != before
    done_at_restart = counts(data, "restart")[0]
    assert 0 < done_at_restart < 200, "the restart must happen while work is queued"
    done, max_runs, total = until(lambda: counts(data, "restart"), lambda now: now[0] >= 200, 240, 2)
    print(f"restart during work: {done_at_restart} done at the restart, {done}/{total} at the end, max runs {max_runs}")
    assert (done, total, max_runs) == (200, 200, 1)


def received(workers):
    """How many process_job deliveries each worker host's default worker has logged so far."""
    return [int(host.check_output("grep -c 'Task webapp.process_job\\[.*\\] received' "
                                  "/var/log/supervisor/webapp-celery-default.log || true")) for host in workers]


def test_a_task_whose_worker_is_killed_is_delivered_again_and_completes(web1, workers):
    before = received(workers)
    job = post_job(web1, f"killed-{time.time_ns()}", delay=8)
    until(lambda: received(workers), lambda now: now != before, 30, 0.5)
    time.sleep(1)
    # The worker host that took the task: kill -9 its whole worker (main process and pool children), so there is
    # no warm shutdown and no ack.
    host = workers[[now > then for now, then in zip(received(workers), before)].index(True)]
    pid = worker_pids(host)
    # The process group from /proc (the minimal image has no ps): field 5 of /proc/<pid>/stat.
    pgid = host.check_output(f"cut -d' ' -f5 /proc/{pid}/stat")
    host.check_output(f"bash -c 'kill -9 -- -{pgid}'")
    assert wait_for_job(web1, job["id"], seconds=5)["status"] != "done"
    done = wait_for_job(web1, job["id"], seconds=180)
    assert done["status"] == "done", done
    assert done["runs"] == 1
    assert sum(received(workers)) - sum(before) >= 2, "the task was not delivered a second time"
    assert worker_pids(host) != pid  # supervisor started the worker again by itself


def test_workers_reconnect_after_the_broker_restarts(web1, workers, data):
    pids = [worker_pids(host) for host in workers]
    data.check_output("systemctl restart rabbitmq-server")
    jobs = [post_job(web1, f"after-broker-restart-{n}", delay=1) for n in range(8)]
    done = [wait_for_job(web1, job["id"], seconds=180) for job in jobs]
    assert all(job["status"] == "done" for job in done), done
    assert {job["result"] for job in done} == {f"processed by {host.backend.get_hostname()}" for host in workers}
    assert [worker_pids(host) for host in workers] == pids  # reconnected, not restarted by hand


def test_the_role_reads_the_broker_right_after_restarting_it(web1, data, run_playbook):
    # The role runs no `rabbitmqctl await_startup`: Debian's unit is Type=notify and a restart returns once the
    # broker is booted. Restart it just before the role's reads, with drift for them to find (the app's user
    # tagged by hand): the reads must see the drift on the new broker and the role take the tag back.
    playbook = Path(__file__).resolve().parent.parent / "rotate-broker-password.yml"
    assert data.check_output("systemctl show --property Type --value rabbitmq-server") == "notify"
    before = data.check_output("systemctl show --property MainPID --value rabbitmq-server")
    data.check_output("rabbitmqctl --quiet set_user_tags webapp monitoring")
    rc, output = run_playbook(playbook, extra_vars={"webstack_test_restart_broker": True})
    assert rc == 0, output[-3000:]
    assert data.check_output("systemctl show --property MainPID --value rabbitmq-server") != before
    users = dict(line.split(None, 1) for line in data.check_output("rabbitmqctl -q list_users").splitlines()[1:])
    assert users == {"webapp": "[]"}
    job = wait_for_job(web1, post_job(web1, "after-role-restart", delay=0)["id"], seconds=180)
    assert job["status"] == "done", job


def test_a_dump_restores_into_a_fresh_database_with_the_rows(data):
    dump = data.check_output("systemctl start webstack-pg-backup.service && "
                             "ls -1t /var/backups/postgresql/webapp-*.dump | head -n 1")
    assert data.file("/var/backups/postgresql").mode == 0o700
    data.run("runuser -u postgres -- dropdb --if-exists webapp_restored")
    data.check_output(f"webstack-pg-restore {dump} webapp_restored")
    try:
        live = sql(data, "SELECT count(*) FROM job WHERE status = 'done'")
        restored = sql(data, "SELECT count(*) FROM job WHERE status = 'done'", database="webapp_restored")
        assert int(restored[0][0]) >= 200 and restored == live
        owner = sql(data, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'webapp_restored'")
        assert owner == [["webapp"]]
    finally:
        data.run("runuser -u postgres -- dropdb --if-exists webapp_restored")
