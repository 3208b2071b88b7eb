"""The operator's playbooks against the built estate: run (a one-off command in the live release), releases (every
app host's history, newest first), logs (the newest lines of every host's logs), maintenance (the page on and
off) and config (environment variables set and unset with no rebuild)."""

import json
import re
import uuid
from pathlib import Path

from background import DATA, WEB, WORKER, WORKERS
from estate import CURL, ROOT, fetch
from webstack_testing import Load, as_printed

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
RUN = PLAYBOOKS / "run.yml"
RELEASES = PLAYBOOKS / "releases.yml"
LOGS = PLAYBOOKS / "logs.yml"
MAINTENANCE = PLAYBOOKS / "maintenance.yml"
CONFIG = PLAYBOOKS / "config.yml"
STATUS = PLAYBOOKS / "status.yml"
WORKER_PROGRAM = "webapp-celery-default"
SECRET_KEY = "bg-test-secret-93c1a7"  # the scenario's python_app_secrets


def test_run_prints_an_app_command_s_output_as_the_app_user_in_the_live_release_without_the_secrets(web1,
                                                                                                   run_playbook):
    command = ("flask --app wsgi:app routes; id -un; pwd -P; test -n \"$SECRET_KEY\" && echo secret-key-set; "
               "echo \"instance=$WEBAPP_INSTANCE_PATH\"; echo on-stderr >&2")
    # -v prints each task's arguments and result: the secret must not be among them either.
    rc, output = run_playbook(RUN, extra_vars={"cmd": command}, verbosity=1)
    assert rc == 0, output[-3000:]
    printed = as_printed(output)
    live = web1.check_output(f"readlink -f {ROOT}/current")
    assert f"{WEB} $ flask --app wsgi:app routes;" in printed
    for seen in ("main.healthz GET /healthz", " deploy ", f" {live} ", "secret-key-set",
                 "instance=/srv/webapp/shared/instance", "on-stderr", "exit status 0"):
        assert seen in printed, (seen, printed[-3000:])
    assert SECRET_KEY not in output


def test_run_on_another_app_host_fails_as_its_command_does(run_playbook):
    rc, output = run_playbook(RUN, extra_vars={"cmd": "echo about-to-fail; exit 3", "run_host": WORKER})
    assert rc != 0
    printed = as_printed(output)
    for seen in (f"{WORKER} $ echo about-to-fail; exit 3", "- about-to-fail", "exit status 3",
                 f"The command exited with status 3 on {WORKER}"):
        assert seen in printed, (seen, printed[-3000:])


def test_run_stops_a_command_that_outlives_run_timeout_and_says_so(web1, run_playbook):
    marker = uuid.uuid4().hex[:12]
    rc, output = run_playbook(RUN, extra_vars={"cmd": f"echo started; sleep 300 # {marker}", "run_timeout": 2})
    assert rc != 0
    printed = as_printed(output)
    for seen in ("- started", "exit status 124", f"The command was stopped after run_timeout (2 s) on {WEB}"):
        assert seen in printed, (seen, printed[-3000:])
    assert web1.run(f"pgrep -f '[s]leep 300 # {marker}'").rc == 1  # nothing of it is left running


def test_run_without_a_command_or_on_a_host_that_is_no_app_host_runs_nothing(run_playbook):
    rc, output = run_playbook(RUN, extra_vars={"run_host": DATA, "run_timeout": "soon"})
    assert rc != 0
    printed = as_printed(output)
    assert "Nothing ran: give the command with -e cmd=" in printed, printed[-3000:]
    assert "run_timeout is soon: give a positive whole number of seconds (default 3600)" in printed
    assert f"run_host is {DATA}, not a host of group web or worker" in printed
    assert "Gather the facts" not in output and "Run it as the app's user" not in output


def history(host):
    """The host's history.tsv rows: release, commit, version, time, by, result."""
    lines = host.file(f"{ROOT}/history.tsv").content_string.splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def as_row(host_name, row):
    release, commit, version, time, by, result = row
    return " ".join([time[:19] + "Z", host_name, version, commit[:10], by, release, result])


def test_releases_shows_each_host_s_newest_history_lines_newest_first_and_changes_nothing(workers, run_playbook):
    rows = {host.backend.get_hostname(): history(host) for host in workers}
    assert all(len(lines) >= 2 for lines in rows.values()), rows  # built, then deployed, at least
    rc, output = run_playbook(RELEASES, extra_vars={"releases_lines": 1})
    assert rc == 0, output[-3000:]
    table = as_printed(output)
    assert "time (UTC) host version commit by release result" in table, table[-3000:]
    for name in WORKERS:
        assert as_row(name, rows[name][-1]) in table, (as_row(name, rows[name][-1]), table[-3000:])
        assert as_row(name, rows[name][-2]) not in table  # older than the one line asked for
    shown = sorted(((rows[name][-1][3], as_row(name, rows[name][-1])) for name in WORKERS), reverse=True)
    positions = [table.index(row) for _, row in shown]
    assert positions == sorted(positions), shown
    assert set(re.findall(r"changed=(\d+)", output)) == {"0"}


def test_releases_shows_twenty_lines_of_each_host_unless_told(workers, run_playbook):
    rows = {host.backend.get_hostname(): history(host) for host in workers}
    rc, output = run_playbook(RELEASES)
    assert rc == 0, output[-3000:]
    table = as_printed(output)
    for name in WORKERS:
        for row in rows[name][-20:]:
            assert as_row(name, row) in table, (as_row(name, row), table[-3000:])


def test_releases_refuses_a_number_of_lines_that_is_not_one_before_reading_anything(run_playbook):
    rc, output = run_playbook(RELEASES, extra_vars={"releases_lines": "0"})
    assert rc != 0
    assert "releases_lines is 0: give a positive whole number of lines" in as_printed(output)
    assert "Read the history" not in output


def test_logs_shows_a_request_just_made_with_its_path_prefixed_by_host_and_file(web1, run_playbook):
    marker = uuid.uuid4().hex
    for n in range(3):  # through nginx to the app, which answers 404; a request the pattern leaves out after each
        web1.run(f"curl -sk -o /dev/null https://127.0.0.1/logs-test/{marker}/{n} https://127.0.0.1/logs-test/{n}")
    rc, output = run_playbook(LOGS, extra_vars={"logs_group": "web", "logs_of": "access,error",
                                                "logs_grep": marker, "logs_lines": 2})
    assert rc == 0, output[-3000:]
    printed = as_printed(output)
    # Only the newest two of the three, each with its host and file, and the note that older ones were left out.
    shown = re.findall(rf'- (\S+) (\S+) \| \S+ - - \[[^]]+\] "GET /logs-test/{marker}/(\d) HTTP/[0-9.]+" (\d+)',
                       printed)
    assert shown == [(WEB, "nginx/access.log", "1", "404"), (WEB, "nginx/access.log", "2", "404")], printed[-3000:]
    assert f"{WEB} nginx/access.log | (older lines left out: logs_lines=2)" in printed
    assert set(re.findall(r"changed=(\d+)", output)) == {"0"}


def test_logs_shows_each_worker_host_s_newest_worker_lines_as_they_are_on_the_host(workers, run_playbook):
    # Beat and the workers keep writing while the playbook reads: the three lines shown must be three consecutive
    # lines of the file, no older than the newest three before the run.
    files = {}
    for host in workers:
        files[host] = {path: len(host.file(path).content_string.splitlines()) for path in
                       host.check_output("ls /var/log/supervisor/webapp-celery-*.log").split()}
        assert files[host], host.backend.get_hostname()
    rc, output = run_playbook(LOGS, extra_vars={"logs_group": "worker", "logs_of": ["workers"], "logs_lines": 3,
                                                "logs_since": "7d"})
    assert rc == 0, output[-3000:]
    printed = as_printed(output)
    for host, counts in files.items():
        name = host.backend.get_hostname()
        for path, before in counts.items():
            lines = host.file(path).content_string.splitlines()
            shown = [" ".join(f"{name} {path[len('/var/log/'):]} | {line}".split()) for line in lines]
            windows = [shown[start:start + 3] for start in range(max(0, before - 3), len(shown) - 2)]
            assert any(all(line in printed for line in window) for window in windows), (shown[-3:], printed[-3000:])
    assert "nginx/" not in printed and "webapp-blue" not in printed and "webapp-green" not in printed


def test_logs_refuses_unknown_hosts_logs_times_and_patterns_before_reading_anything(run_playbook):
    rc, output = run_playbook(LOGS, extra_vars={"logs_group": "web:nosuch", "logs_of": "app,mail",
                                                "logs_lines": "-1"})
    assert rc != 0
    printed = as_printed(output)
    for seen in ("Nothing was read: logs_group names nosuch, neither a group nor a host of the inventory",
                 "logs_of is app,mail: give any of app, workers, access, error",
                 "logs_lines is -1: give a positive whole number of lines"):
        assert seen in printed, (seen, printed[-3000:])
    for extra_vars, seen in (({"logs_since": "yesterday"}, "since is 'yesterday': give a time ago"),
                             ({"logs_grep": "(unclosed"}, "grep is '(unclosed', not a regular expression")):
        rc, output = run_playbook(LOGS, extra_vars=extra_vars)
        assert rc != 0 and seen in as_printed(output), output[-3000:]
        assert "Read the newest lines" not in output


def test_maintenance_on_serves_the_page_but_not_on_the_health_path_and_off_brings_the_app_back(web1, run_playbook):
    assert fetch(web1, "/")[0] == 200
    try:
        rc, output = run_playbook(MAINTENANCE, extra_vars={"maintenance": "on"})
        assert rc == 0, output[-3000:]
        status, body = fetch(web1, "/")
        assert status == 503 and "Down for maintenance" in body, (status, body)
        assert fetch(web1, "/healthz")[0] == 200
        assert f"{WEB}: maintenance on; / answers 503, /healthz answers 200" in as_printed(output), output[-3000:]
        rc, output = run_playbook(STATUS)
        assert rc == 0 and re.search(rf"{WEB}: health OK \(.*; deploy lock free; MAINTENANCE page on\b",
                                     as_printed(output)), output[-3000:]
        rc, output = run_playbook(MAINTENANCE, extra_vars={"maintenance": "on"})
        assert rc == 0 and set(re.findall(r"changed=(\d+)", output)) == {"0"}, output[-3000:]
    finally:
        rc, output = run_playbook(MAINTENANCE, extra_vars={"maintenance": "off"})
    assert rc == 0, output[-3000:]
    assert fetch(web1, "/")[0] == 200
    assert f"{WEB}: maintenance off; / answers 200, /healthz answers 200" in as_printed(output), output[-3000:]


def test_maintenance_refuses_anything_but_on_or_off_before_touching_a_host(web1, run_playbook):
    rc, output = run_playbook(MAINTENANCE, extra_vars={"maintenance": "maybe"})
    assert rc != 0
    assert "Nothing changed: maintenance is 'maybe': give -e maintenance=on or off." in as_printed(output)
    assert "Write the maintenance flag" not in output and "Remove the maintenance flag" not in output
    assert fetch(web1, "/")[0] == 200


def client_seen(web1):
    """The client address the app believes in for a request with a forged X-Forwarded-For: the forged one only
    when the app trusts two proxies (TRUSTED_PROXY_COUNT=2) instead of the scenario's one."""
    return json.loads(web1.check_output(f"{CURL} -H 'X-Forwarded-For: 203.0.113.9' https://localhost/whoami"))[
        "remote_addr"]


def worker_environment(host):
    pid = host.check_output(f"supervisorctl pid {WORKER_PROGRAM}")
    return dict(item.split("=", 1) for item in host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines()
                if "=" in item)


def test_config_sets_and_unsets_variables_for_the_app_and_workers_with_no_rebuild_and_no_failed_request(
        web1, workers, run_playbook):
    releases = {host: host.check_output(f"readlink {ROOT}/current") for host in workers}
    assert client_seen(web1) == "127.0.0.1"
    load = Load(WEB, "--port=443", "--tls", "--path=/healthz", "--requests=100000", "--seconds=600",
                "--concurrency=4", "--rate=100", "--at-least=500")
    try:
        rc, output = run_playbook(CONFIG, extra_vars={"config_set": {"TRUSTED_PROXY_COUNT": "2",
                                                                     "CONFIG_TEST_TOKEN": "s3t-by-config 'quoted'"}})
    finally:
        result = load.stop()
    assert rc == 0, output[-3000:]
    assert "s3t-by-config" not in output
    assert result["sent"] >= 500 and result["connection_errors"] == 0 and result["non_2xx"] == 0, result
    assert client_seen(web1) == "203.0.113.9"  # the app's processes have the new value
    for host in workers:
        assert host.check_output(f"readlink {ROOT}/current") == releases[host]  # no new release
        assert worker_environment(host)["CONFIG_TEST_TOKEN"] == "s3t-by-config 'quoted'"
        local = host.file(f"{ROOT}/shared/env.local")
        assert (local.user, local.mode) == ("deploy", 0o640)
    assert history(web1)[-1][5] == "restarted"
    rc, status = run_playbook(STATUS)
    assert rc == 0 and "s3t-by-config" not in status
    assert f"{WORKER}: set by config.yml: CONFIG_TEST_TOKEN, TRUSTED_PROXY_COUNT" in as_printed(status), status[-3000:]
    for name in WORKERS:
        assert (f"{name}: CONFIG_TEST_TOKEN, TRUSTED_PROXY_COUNT set in shared/env.local (changed: restarted onto the "
                "release it serves)") in as_printed(output), output[-3000:]

    # Unset wins over the inventory's value too; forget hands the name back to the inventory.
    rc, output = run_playbook(CONFIG, extra_vars={"config_unset": ["CONFIG_TEST_TOKEN"],
                                                  "config_forget": ["TRUSTED_PROXY_COUNT"]})
    assert rc == 0, output[-3000:]
    assert client_seen(web1) == "127.0.0.1"
    for host in workers:
        assert "CONFIG_TEST_TOKEN" not in worker_environment(host)
        assert worker_environment(host)["TRUSTED_PROXY_COUNT"] == "1"
        assert host.file(f"{ROOT}/shared/env.local").content_string == "unset CONFIG_TEST_TOKEN\n"
    assert f"{WEB}: CONFIG_TEST_TOKEN (unset) set in shared/env.local (changed: " in as_printed(output)


def test_config_refuses_names_no_variable_may_have_before_touching_a_host(workers, run_playbook):
    before = [host.run(f"cat {ROOT}/shared/env.local").stdout for host in workers]
    rc, output = run_playbook(CONFIG, extra_vars={"config_set": {"1ST": "x", "GOOD": "y"},
                                                  "config_unset": ["BAD-NAME", "GOOD"]})
    assert rc != 0
    printed = as_printed(output)
    assert "Nothing changed: not a variable name: 1ST, BAD-NAME (letters, digits and _, not first a digit)" in printed
    assert "named more than once: GOOD" in printed
    assert "Write the settings" not in output
    assert [host.run(f"cat {ROOT}/shared/env.local").stdout for host in workers] == before
