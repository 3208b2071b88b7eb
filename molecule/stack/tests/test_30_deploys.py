"""deploy.yml and rollback.yml across the estate under load, a failing version stopping the rollout, a second
site.yml that restarts nothing, and a canary switched back."""

import json
import re
import time
from pathlib import Path

from estate import (
    ROOT, app_server, health, live_colour, live_release, post_job, running_colours, wait_for_job, worker_pids,
)
from stack import LB
from webstack_testing import Load, as_printed, wait_out_fail_window

SCENARIO = Path(__file__).resolve().parent.parent
# Inside the load balancer's container, to its own HTTPS port: about 150 requests a second (each on a new TLS
# connection, as many clients), at most 360,000 requests or 1200 s (bounds only: the load stops when the playbook
# has finished). At 300 a second the two cores were saturated (about 160 answered a second) and the deploys
# slowed down.
RATE = 150
# The failing version's deploy and the rollback need no such bar, only steady load while the hosts switch:
# a third of the rate (still thousands of requests) leaves the playbooks more of the two cores.
LIGHT_RATE = 50
# The bar for the deploy: at least this many requests without a failure. The load starts before the playbook and
# stops only when it has finished (the versions seen show that it spanned the rollout), and goes on after a deploy
# quicker than these requests take: enough to say anything, not so many that the load outlasts the deploy by
# minutes (20,000 at 150 a second held the test at 160 s however quick the deploy).
DEPLOY_REQUESTS = 6000


def releases(host):
    return host.check_output(f"ls {ROOT}/releases").split()


def under_load(action, at_least=2, rate=RATE, path="/healthz", requests=1000):
    """Run action while the load balancer gets load; keep the load up for at least `at_least` seconds in all, and
    until at least `requests` requests have left (a quick playbook still gets enough to say anything)."""
    started = time.monotonic()
    load = Load(LB, "--port=443", "--tls", f"--path={path}", "--requests=360000", "--seconds=1200",
                "--concurrency=8", f"--rate={rate}", f"--at-least={requests}")
    rc, output = action()
    time.sleep(max(2, at_least - (time.monotonic() - started)))
    return rc, output, load.stop()


def assert_no_loss(result):
    assert result["sent"] >= 1000, "too little load to say anything"
    # The whole result: when the failures came (failed_between_s) places them against the playbook's tasks.
    assert result["connection_errors"] == 0, result
    assert result["non_2xx"] == 0, result


def test_the_load_test_sees_loss_when_the_app_servers_restart_plainly(webs):
    # The negative control: the same load while the app servers of both web hosts stop and start again (what a
    # deploy without blue/green would do) must show failed requests, or the tests below could not see any.
    def restart():
        for action in ("stop", "start"):
            for web in webs:
                app_server(web, action)
        return 0, ""

    _, _, result = under_load(restart, at_least=10)
    assert result["sent"] >= 1000
    assert result["non_2xx"] + result["connection_errors"] > 0, result
    for web in webs:
        assert health(web)["version"] == "1.0.0"
    # Those failures made the load balancer mark both web hosts failed (max_fails); it tries one again only when
    # fail_timeout has passed since its last failure. The next test's deploy must start on an estate that serves,
    # not in that window (a run whose deploy began 1 s after the control saw 300 answers of 502 from the balancer).
    assert wait_out_fail_window(LB)


def worker_cwd(worker):
    pid = worker_pids(worker)
    return worker.check_output(f"runuser -u deploy -- readlink /proc/{pid}/cwd")


def test_a_web_host_that_does_not_answer_stops_the_deploy_before_any_change(webs, worker, run_playbook, tmp_path):
    absent = tmp_path / "absent.yml"  # a third web host whose container does not exist
    absent.write_text("web:\n  hosts:\n    stack-web9:\n      ansible_connection: docker\n")
    before = [releases(host) for host in (*webs, worker)]
    rc, output = run_playbook(SCENARIO / "deploy.yml", extra_vars={"python_app_version": "v1.1.0"},
                              more_inventory=absent)
    assert rc != 0
    said = as_printed(output)
    assert "stack-web9 did not answer (unreachable, or its facts could not be read): nothing was changed on any " \
        "host. Bring it back, or leave it out of this run with --limit 'all:!stack-web9'" in said, output[-3000:]
    assert [releases(host) for host in (*webs, worker)] == before


def test_deploy_ships_a_new_version_everywhere_with_no_failed_request(lb, webs, worker, run_playbook):
    rc, output, result = under_load(
        lambda: run_playbook(SCENARIO / "deploy.yml", extra_vars={"python_app_version": "v1.1.0"}),
        requests=DEPLOY_REQUESTS)
    assert rc == 0, output[-4000:]
    assert_no_loss(result)
    assert result["sent"] >= DEPLOY_REQUESTS, result
    # The load spanned the rollout: it saw the old and the new version.
    assert set(result["versions"]) == {"1.0.0", "1.1.0"}, result
    # Each web host left the load balancer's rotation for its switch and came back.
    assert len(re.findall(r"^changed: \[stack-web\d -> stack-lb\]", output, re.MULTILINE)) == 4, output[-4000:]
    assert " down;" not in lb.check_output("cat /etc/nginx/sites-available/webapp.conf")
    for web in webs:
        assert health(web)["version"] == "1.1.0"
        # The old colours ran on through the rollout and stopped at the end: only the live one runs.
        assert running_colours(web) == [live_colour(web)], web.check_output("supervisorctl status")
    # The worker host switched too, and its worker was restarted warm onto the new release.
    assert worker_cwd(worker) == f"{ROOT}/releases/{live_release(worker)}"
    assert live_release(worker).endswith(live_release(webs[0])[-10:])
    assert re.search(r"^stack-web1\s+: ok=\d+\s+changed=[1-9]", output, re.MULTILINE)
    job = post_job(webs[1], "after-deploy", delay=0)
    assert wait_for_job(webs[1], job["id"])["status"] == "done"


def test_a_version_failing_its_health_check_stops_after_the_first_web_host(webs, worker, run_playbook):
    before = [live_release(web) for web in webs] + [live_release(worker)]
    rc, output, result = under_load(
        lambda: run_playbook(SCENARIO / "deploy.yml", extra_vars={
            # Its health path answers 503 at once: a short timeout is enough to see it refused.
            "python_app_version": "v1.3.0-broken-health", "python_app_health_timeout": 10}), rate=LIGHT_RATE)
    assert rc != 0
    assert_no_loss(result)
    # The first web host refused the release; the rollout stopped there: nothing else moved.
    assert "stack-web1" in output and "health" in output.lower()
    assert [live_release(web) for web in webs] + [live_release(worker)] == before
    for web in webs:
        assert health(web)["version"] == "1.1.0"


def test_rollback_returns_every_host_to_the_previous_release_with_no_failed_request(webs, worker, run_playbook):
    previous = [web.check_output(f"basename $(readlink {ROOT}/previous)") for web in webs]
    versions = [json.loads(host.file(f"{ROOT}/previous/.webstack-release").content_string)["version"]
                for host in webs + [worker]]
    folders = [releases(host) for host in webs + [worker]]
    rc, output, result = under_load(lambda: run_playbook(SCENARIO / "rollback.yml"), rate=LIGHT_RATE)
    assert rc == 0, output[-4000:]
    assert_no_loss(result)
    assert [live_release(web) for web in webs] == previous
    for web in webs:
        assert health(web)["version"] == "1.0.0"
        assert running_colours(web) == [live_colour(web)], web.check_output("supervisorctl status")
    assert worker_cwd(worker) == f"{ROOT}/releases/{live_release(worker)}"
    # Nothing was built again: the rollback switched to releases that existed.
    assert [releases(host) for host in webs + [worker]] == folders
    # The history names the version gone back to, as it was deployed (not the commit it resolves to).
    assert [history(host)[-1][2] for host in webs + [worker]] == versions


def test_site_again_on_a_built_estate_changes_and_restarts_nothing(webs, worker, run_playbook):
    masters = [app_server(web, "pid") for web in webs]
    celery = worker_pids(worker)
    rc, output = run_playbook(SCENARIO / "converge.yml")
    assert rc == 0, output[-4000:]
    recap = re.findall(r"^(stack-\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE)
    assert len(recap) == 6 and all(changed == "0" for _, changed in recap), recap
    # The summary shows each load balancer's certificate and its last renewal.
    summary = as_printed(output)
    for lb in ("stack-lb", "stack-lb2"):
        assert f"{lb}: certificate webapp for www.stack.webstack.test, serial" in summary, output[-4000:]
    assert "last renewal RENEWED" in summary
    assert [app_server(web, "pid") for web in webs] == masters
    assert worker_pids(worker) == celery


def history(host):
    lines = host.file(f"{ROOT}/history.tsv").content_string.splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def test_a_version_failing_the_canary_is_switched_back_and_the_rollout_stops(webs, worker, run_playbook):
    # v2.2.0-fails-canary answers its health path three times, then 503: the switch's two checks pass, the canary's
    # watch fails. The load asks another path (users do not see the health path), so it must see no failure.
    before = [live_release(host) for host in webs + [worker]]
    previous = [webs[0].check_output(f"readlink {ROOT}/previous")]
    version = health(webs[0])["version"]
    rc, output, result = under_load(lambda: run_playbook(SCENARIO / "deploy.yml", extra_vars={
        "python_app_version": "v2.2.0-fails-canary", "webstack_deploy_canary_seconds": 20}),
        rate=LIGHT_RATE, path="/whoami")
    assert rc != 0
    assert_no_loss(result)
    assert "The canary stack-web1 failed its watch of 20 s" in output, output[-4000:]
    # The canary served the new release, then went back; nothing else moved.
    deployed, failed, back = history(webs[0])[-3:]
    assert (deployed[2], deployed[5]) == ("v2.2.0-fails-canary", "deployed")
    assert (failed[0], failed[5]) == (deployed[0], "failed: canary's watch of 20 s")
    assert (back[0], back[5]) == (before[0], "switched")
    assert [live_release(host) for host in webs + [worker]] == before
    assert [webs[0].check_output(f"readlink {ROOT}/previous")] == previous
    assert not [row for row in history(webs[1]) if row[2] == "v2.2.0-fails-canary" and row[5] != "built"]
    for web in webs:
        assert health(web)["version"] == version
        # The canary's failed colour stopped when it went back (the other host never started one).
        assert running_colours(web) == [live_colour(web)], web.check_output("supervisorctl status")
