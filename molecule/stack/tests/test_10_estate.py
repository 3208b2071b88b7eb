"""The estate site.yml built: the page on both web hosts, a task round trip, and the services' security."""

import json
import re
from pathlib import Path

import pytest

from stack import (
    ROOT, WEB, WORKER, address, connect, env_value, fetch, get_host, health, listening, post_job, sql, wait_for_job,
)


@pytest.mark.parametrize("name", WEB)
def test_each_web_host_serves_the_app_through_nginx(inventory, name):
    web = get_host(inventory, name)
    status, body = fetch(web, "/")
    assert status == 200
    assert "1.0.0" in body
    assert health(web) == {"status": "ok", "version": "1.0.0"}


def test_web_and_worker_hosts_share_one_postgresql_database(inventory, data):
    # DATABASE_URL and CELERY_BROKER_URL were derived from the inventory: every app host reaches the db host.
    data_address = address(data)
    for name in WEB + [WORKER]:
        host = get_host(inventory, name)
        assert env_value(host, "DATABASE_URL").startswith("postgresql+psycopg://webapp:")
        assert env_value(host, "DATABASE_URL").endswith(f"@{data_address}:5432/webapp")
        assert env_value(host, "CELERY_BROKER_URL").endswith(f"@{data_address}:5672/webapp")
    assert sql(data, "SELECT to_regclass('public.job')") == [["job"]]


def test_a_task_posted_through_the_proxy_is_done_by_the_worker_host_through_the_broker(web1, data):
    job = post_job(web1, "round-trip-1", delay=0.2)
    done = wait_for_job(web1, job["id"])
    assert done["status"] == "done", done
    assert done["result"] == f"processed by {WORKER}"
    assert sql(data, "SELECT status, runs FROM job WHERE key = 'round-trip-1'") == [["done", "1"]]


def test_the_tasks_queue_is_durable(data):
    out = data.check_output("rabbitmqctl --quiet list_queues -p webapp name durable")
    assert ["webapp", "true"] in [line.split() for line in out.splitlines()]


def authenticates(data, user, password):
    return data.run(f"rabbitmqctl --quiet authenticate_user {user} {json.dumps(password)}").rc == 0


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


def run_in_release(host, code, *args):
    host.check_output(f"cat > /tmp/check.py <<'PY'\n{code}PY")
    return host.check_output(
        f"runuser -u deploy -- sh -c 'set -a; . {ROOT}/shared/env; set +a; "
        f"{ROOT}/current/.venv/bin/python /tmp/check.py {' '.join(args)}'"
    )


def test_the_app_user_can_use_its_vhost_and_no_other(web1, data):
    data.check_output("rabbitmqctl --quiet add_vhost other-app")
    try:
        assert run_in_release(web1, AMQP_CHECK, "webapp") == "connected"
        assert run_in_release(web1, AMQP_CHECK, "other-app").startswith("refused")
    finally:
        data.run("rabbitmqctl --quiet delete_vhost other-app")


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
    # community.rabbitmq's rabbitmq_user does not reliably change an existing user's password; the role checks
    # and changes it itself. Rotate to a new password, then back to the inventory's.
    playbook = Path(__file__).resolve().parent.parent / "rotate-broker-password.yml"
    old, new = "stack-mq-pass-5a2d8f", "stack-mq-rotated-7c3e91"
    assert authenticates(data, "webapp", old) and not authenticates(data, "webapp", new)
    try:
        rc, output = run_playbook(playbook, extra_vars={"rabbitmq_app_password": new})
        assert rc == 0, output[-3000:]
        assert re.search(r"^stack-data\s+: ok=\d+\s+changed=[1-9]", output, re.MULTILINE), output[-3000:]
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
        f"PGPASSWORD={json.dumps('stack-pg-pass-0c9b7e')} psql -h {data_address} -U webapp -d webapp -c 'SELECT 1'"
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


def test_each_firewall_opens_what_its_host_serves_and_only_to_whom_it_serves(lb, webs, worker, data):
    # The broker and database ports are open to the app hosts, not to the load balancer.
    for port in (5672, 5432):
        assert connect(worker, data, port) == "open"
        assert connect(webs[1], data, port) == "open"
        assert connect(lb, data, port) == "dropped"
    # RabbitMQ's Erlang ports (epmd and inter-node traffic) listen on every address, but no other host gets in.
    for port in (4369, 25672):
        assert listening(data, port), port
        assert connect(worker, data, port) == "dropped"
    # HTTPS is for everyone on the load balancer and the web hosts; the worker serves nothing.
    assert connect(worker, lb, 443) == "open"
    assert connect(lb, webs[0], 443) == "open"
    assert listening(worker, 22) and connect(lb, worker, 22) == "open"
    assert connect(lb, worker, 5555) == "dropped"
