"""The estate site.yml built: the page on both web hosts, one database and broker for all, a task round trip,
and each host's firewall. The broker's, the database's and the workers' own behaviour is the background
scenario's (it runs in `make test`)."""

import re
from pathlib import Path

import pytest

from estate import address, connect, env_value, fetch, get_host, health, listening, post_job, sql, wait_for_job
from stack import LB, LB2, WEB, WORKER
from webstack_testing import as_printed

SCENARIO = Path(__file__).resolve().parent.parent


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


def test_status_tells_each_hosts_release_health_programs_and_certificate_and_changes_nothing(run_playbook):
    rc, output = run_playbook(SCENARIO / "status.yml")
    assert rc == 0, output[-3000:]
    table = as_printed(output)
    for name in WEB:
        assert re.search(rf"{name}: live v1\.0\.0 \(release \d{{8}}T\d{{6}}Z-[0-9a-f]{{10}}, since ", table), table
        assert f"{name}: health OK (/healthz answered 200: " in table
        assert re.search(rf"{name}: webapp-(blue|green) RUNNING pid \d+, uptime ", table)
    assert f"{WORKER}: health - (serves nothing here); disk " in table
    assert re.search(rf"{WORKER}: \S*celery\S* RUNNING pid ", table), table
    for name in (LB, LB2):
        assert f"{name}: certificate webapp: " in table
    assert set(re.findall(r"changed=(\d+)", output)) == {"0"}, output[-3000:]


def statuses(web, path, count):
    """The status of `count` GETs of `path` through the web host's nginx, each on a new connection."""
    out = web.check_output(f"for i in $(seq {count}); do curl -sk -o /dev/null -w '%{{http_code}}\\n' "
                           f"https://localhost{path}; done")
    return out.split()


def test_the_app_answers_at_once_after_the_database_restarted_and_a_task_is_done_once(webs, data):
    job = post_job(webs[0], "before-the-restart", delay=0)
    assert wait_for_job(webs[0], job["id"])["status"] == "done"
    for web in webs:  # every app process holds pooled connections to the database
        assert set(statuses(web, f"/jobs/{job['id']}", 20)) == {"200"}
    data.check_output("systemctl restart postgresql")
    for web in webs:  # the pooled connections died with the server: each is tested before use (pool_pre_ping)
        assert set(statuses(web, f"/jobs/{job['id']}", 20)) == {"200"}
    after = post_job(webs[1], "after-the-restart", delay=0)
    assert wait_for_job(webs[1], after["id"])["status"] == "done"
    assert sql(data, "SELECT runs FROM job WHERE key = 'after-the-restart'") == [["1"]]
