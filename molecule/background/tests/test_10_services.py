"""What site.yml built for background work: tasks posted through the proxy are done by both worker hosts through
the broker, and the broker's and the database's users, passwords and listeners are as tight as the roles say."""

import json
import re
from pathlib import Path

from background import BROKER_PASSWORD, DATA, DB_PASSWORD, WORKERS
from estate import LIVE_PROGRAM, ROOT, address, authenticates, post_job, run_in_release, sql, wait_for_job

WORKER_PROGRAM = "webapp-celery-default"


def test_the_web_host_runs_uwsgi_speaking_http_behind_nginx(web1):
    # bg-web's inventory says python_app_server: uwsgi, uwsgi_protocol: http: the live colour listens with
    # --http-socket, its socket answers plain HTTP, and nginx proxies HTTP to it (no uwsgi_pass).
    assert "--http-socket" in web1.check_output(f"cat /etc/supervisor/conf.d/{LIVE_PROGRAM}.conf")
    answer = web1.check_output(f"curl --silent --show-error --max-time 10 --unix-socket {ROOT}/run/live.sock "
                               "http://localhost/healthz")
    assert json.loads(answer) == {"status": "ok", "version": "1.0.0"}
    site = web1.file("/etc/nginx/sites-available/webapp.conf").content_string
    assert "proxy_pass http://" in site and "uwsgi_pass" not in site


def test_the_release_commands_ran_once_for_both_app_hosts(web1, worker):
    # Both hosts built the release; its commands (createdb and a line naming the host) ran on one of them only.
    lines = [host.run(f"cat {ROOT}/shared/instance/release-commands.log").stdout.split() for host in (web1, worker)]
    assert sorted(len(host_lines) for host_lines in lines) == [0, 1], lines


def test_the_setup_commands_ran_once_for_the_estate_where_the_release_commands_ran(web1, worker):
    # Converge and the idempotence run: the setup commands ran in the first release only, on the host that runs the
    # release commands, and it keeps their record; the other host neither ran them nor has one.
    ran = [host for host in (web1, worker) if host.file(f"{ROOT}/shared/instance/setup-commands.log").exists]
    assert len(ran) == 1
    (host,) = ran
    assert len(host.file(f"{ROOT}/shared/instance/setup-commands.log").content_string.splitlines()) == 1
    assert host.file(f"{ROOT}/shared/instance/release-commands.log").exists
    release = host.file(f"{ROOT}/shared/.webstack-setup").content_string.split()[0]
    assert host.file(f"{ROOT}/releases/{release}/.webstack-release").exists
    other = worker if host == web1 else web1
    assert not other.file(f"{ROOT}/shared/.webstack-setup").exists


def test_tasks_posted_through_the_proxy_are_done_by_both_worker_hosts_through_the_broker(web1, data):
    jobs = [post_job(web1, f"round-trip-{n}", delay=1) for n in range(12)]
    done = [wait_for_job(web1, job["id"]) for job in jobs]
    assert all(job["status"] == "done" for job in done), done
    assert {job["result"] for job in done} == {f"processed by {name}" for name in WORKERS}, done
    assert sql(data, "SELECT count(*), max(runs) FROM job WHERE key LIKE 'round-trip-%'") == [["12", "1"]]


def test_the_queue_a_standard_celery_app_sends_to_is_durable_and_consumed_by_every_worker(data):
    # The reference app sends to Celery's default queue, "celery", as a standard app does; the default workers
    # listen where the app sends (both worker hosts' programs: bg-web's and bg-worker's).
    out = data.check_output("rabbitmqctl --quiet list_queues -p webapp name durable consumers")
    queues = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert queues["celery"][0] == "true", queues
    assert int(queues["celery"][1]) >= len(WORKERS), queues


def test_workers_that_leave_the_app_s_queue_without_a_consumer_are_refused_before_they_change(workers, run_playbook):
    # A worker listing only a queue the app never sends to (the name the role once gave by default): the worker
    # play's celery role asks the app where it sends (celery) and stops before any program is written or restarted.
    celery_play = Path(__file__).resolve().parent.parent / "move-beat.yml"
    programs = {host: host.file(f"/etc/supervisor/conf.d/{WORKER_PROGRAM}.conf").content_string for host in workers}
    pids = {host: host.check_output(f"supervisorctl pid {WORKER_PROGRAM}") for host in workers}
    rc, output = run_playbook(celery_play, extra_vars={"celery_workers": [{"name": "default", "queues": ["webapp"]}]})
    assert rc != 0
    assert "The app sends tasks to celery, which no worker of this play consumes" in output, output[-3000:]
    for host in workers:
        assert host.file(f"/etc/supervisor/conf.d/{WORKER_PROGRAM}.conf").content_string == programs[host]
        assert host.check_output(f"supervisorctl pid {WORKER_PROGRAM}") == pids[host]
    # Listing the app's queue passes the check (the check alone: the programs stay as converged).
    rc, output = run_playbook(celery_play, tags="celery_queues",
                              extra_vars={"celery_workers": [{"name": "default", "queues": ["celery"]}]})
    assert rc == 0, output[-3000:]
    asked = output.split("TASK [pyops.webstack.celery : Ask the app where it sends its tasks]")[1].split("TASK [")[0]
    assert "ok: [" in asked and "skipping" not in asked, asked  # the app was asked, and its answer passed


def test_guest_is_gone_and_cannot_log_in(data):
    users = data.check_output("rabbitmqctl --quiet list_users")
    assert "guest" not in users.split()
    assert not authenticates(data, "guest", "guest")


AMQP_CHECK = (
    "import os, sys, kombu\n"
    "url = os.environ['CELERY_BROKER_URL'].rsplit('/', 1)[0] + '/' + sys.argv[1]\n"
    "try:\n"
    "    kombu.Connection(url, connect_timeout=10).ensure_connection(max_retries=1)\n"
    "    print('connected')\n"
    "except Exception as error:\n"
    "    print('refused', type(error).__name__, error)\n"
)


def test_the_app_user_can_use_its_vhost_and_no_other(web1, data):
    data.check_output("rabbitmqctl --quiet add_vhost other-app")
    try:
        assert run_in_release(web1, AMQP_CHECK, "webapp") == "connected"
        assert run_in_release(web1, AMQP_CHECK, "other-app").startswith("refused")
    finally:
        data.run("rabbitmqctl --quiet delete_vhost other-app")


def test_rights_and_tags_given_by_hand_are_taken_back_and_guest_removed_again(data, run_playbook):
    # Drift made with rabbitmqctl: the app's user tagged administrator, with rights on a second vhost and write
    # rights only on its own, and guest back. The role's one read finds each and puts it right; a run after that
    # changes nothing.
    playbook = Path(__file__).resolve().parent.parent / "rotate-broker-password.yml"
    ctl = "rabbitmqctl --quiet"
    data.check_output(f"{ctl} add_vhost drift && {ctl} set_permissions -p drift webapp '.*' '.*' '.*'")
    try:
        data.check_output(f"{ctl} set_permissions -p webapp webapp '' '.*' '' && {ctl} set_user_tags webapp "
                          f"administrator && {ctl} add_user guest guest")
        rc, output = run_playbook(playbook)
        assert rc == 0, output[-3000:]
        assert re.search(rf"^{DATA}\s+: ok=\d+\s+changed=4\s", output, re.MULTILINE), output[-3000:]
        users = dict(line.split(None, 1) for line in data.check_output(f"{ctl} list_users").splitlines()[1:])
        assert users == {"webapp": "[]"}
        rights = [line.split() for line in data.check_output(f"{ctl} list_user_permissions webapp").splitlines()]
        assert rights[1:] == [["webapp", ".*", ".*", ".*"]]
        rc, output = run_playbook(playbook)
        assert rc == 0, output[-3000:]
        assert re.search(rf"^{DATA}\s+: ok=\d+\s+changed=0\s", output, re.MULTILINE), output[-3000:]
    finally:
        data.run(f"{ctl} delete_vhost drift")


PG_CHECK = (
    "import os, sys, psycopg\n"
    "url = os.environ['DATABASE_URL'].replace('postgresql+psycopg://', 'postgresql://')\n"
    "if sys.argv[1] == 'wrong':\n"
    "    user, rest = url.split('://', 1)[1].split('@', 1)\n"
    "    url = 'postgresql://' + user.split(':')[0] + ':wrong-password@' + rest\n"
    "try:\n"
    "    psycopg.connect(url, connect_timeout=10).execute('SELECT 1')\n"
    "    print('connected')\n"
    "except Exception as error:\n"
    "    print('refused', str(error).strip().splitlines()[-1])\n"
)


def test_a_new_broker_password_replaces_the_old_one(data, run_playbook):
    # The role checks the password with authenticate_user and changes it when it differs (community.rabbitmq's
    # rabbitmq_user did not do it reliably). Rotate to a new password, then back to the inventory's.
    playbook = Path(__file__).resolve().parent.parent / "rotate-broker-password.yml"
    old, new = BROKER_PASSWORD, "bg-mq-rotated-81d4c0"
    assert authenticates(data, "webapp", old) and not authenticates(data, "webapp", new)
    try:
        rc, output = run_playbook(playbook, extra_vars={"rabbitmq_app_password": new})
        assert rc == 0, output[-3000:]
        assert re.search(rf"^{DATA}\s+: ok=\d+\s+changed=[1-9]", output, re.MULTILINE), output[-3000:]
        assert new not in output
        assert authenticates(data, "webapp", new) and not authenticates(data, "webapp", old)
    finally:
        rc, output = run_playbook(playbook, extra_vars={"rabbitmq_app_password": old})
    assert rc == 0, output[-3000:]
    assert authenticates(data, "webapp", old) and not authenticates(data, "webapp", new)


def test_postgresql_takes_the_right_password_only(web1):
    assert run_in_release(web1, PG_CHECK, "right") == "connected"
    wrong = run_in_release(web1, PG_CHECK, "wrong")
    assert wrong.startswith("refused") and "password authentication failed" in wrong


def test_postgresql_refuses_a_host_that_is_not_an_app_host(data):
    # From the database host to its own network address: a source that is not in the client list.
    data_address = address(data)
    result = data.run(
        f"PGPASSWORD={json.dumps(DB_PASSWORD)} psql -h {data_address} -U webapp -d webapp -c 'SELECT 1'"
    )
    assert result.rc != 0
    assert "rejects connection" in result.stderr or "no pg_hba.conf entry" in result.stderr, result.stderr


def test_the_broker_and_database_listen_on_the_private_network_only(data):
    sockets = data.check_output("ss -Hltn")
    data_address = address(data)
    assert f"{data_address}:5672" in sockets and "127.0.0.1:5672" in sockets
    assert "0.0.0.0:5672" not in sockets and "*:5672" not in sockets
    assert f"{data_address}:5432" in sockets
    assert "0.0.0.0:5432" not in sockets
    assert "15672" not in sockets  # no management plugin unless asked


def test_the_broker_runs_only_the_plugins_the_inventory_lists(data):
    # The role writes enabled_plugins itself (no rabbitmq-plugins call): the broker must have read it.
    assert data.file("/etc/rabbitmq/enabled_plugins").content_string == "[].\n"
    enabled = data.check_output("rabbitmq-plugins -q list --enabled --minimal")
    assert [line for line in enabled.splitlines() if line.startswith("rabbitmq_")] == []
