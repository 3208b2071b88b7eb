"""`make bench`'s parts that must be right for its figures to mean anything: the load generator's counts and
latencies, the timing callback, and how the report reads wrk and splits a deploy into phases."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import bench  # noqa: E402

LOADGEN = ROOT / "molecule" / "shared" / "files" / "loadgen.py"
BIN = Path(sys.executable).parent


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        status = 503 if self.path == "/down" else 200
        body = json.dumps({"version": "9.9.9"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def loadgen(*args):
    result = subprocess.run([sys.executable, str(LOADGEN), *args], capture_output=True, text=True, timeout=60,
                            check=True)
    return json.loads(result.stdout)


def test_loadgen_counts_answers_and_reports_their_latency(server):
    before = time.time()
    result = loadgen(f"--port={server}", "--path=/healthz", "--requests=60", "--seconds=20", "--concurrency=3")
    assert result["sent"] == result["ok"] == 60
    assert result["versions"] == {"9.9.9": 60}
    latency = result["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    slowest = [entry["ms"] for entry in result["slowest"]]
    assert len(slowest) == 5
    assert slowest == sorted(slowest, reverse=True)
    assert slowest[0] == latency["max"]
    assert result["failed_between_s"] is None
    # The moment the load started, on the wall clock, so the slowest can be placed against a playbook's tasks.
    assert before <= result["started_epoch"] <= before + result["seconds"] + 5


def test_loadgen_counts_failed_answers_and_refused_connections(server):
    down = loadgen(f"--port={server}", "--path=/down", "--requests=20", "--seconds=20", "--concurrency=2")
    assert (down["non_2xx"], down["statuses"]) == (20, {"503": 20})
    first, last = down["failed_between_s"]
    assert 0 <= first <= last <= down["seconds"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    refused = loadgen(f"--port={closed}", "--requests=10", "--seconds=20", "--concurrency=2")
    assert refused["connection_errors"] == 10
    assert refused["first_errors"][0].startswith("ConnectionRefusedError")


def test_loadgen_stops_at_the_stop_file_only_after_its_least_count(server, tmp_path):
    stop = tmp_path / "stop"
    stop.touch()
    args = [f"--port={server}", "--requests=60", "--seconds=20", "--concurrency=3", f"--stop-file={stop}"]
    assert loadgen(*args)["sent"] == 0
    assert loadgen(*args, "--at-least=25")["sent"] == 25


WRK = """Running 10s test @ https://127.0.0.1/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.34ms    5.67ms   1.20s    70.00%
    Req/Sec   650.00    100.00     0.90k    68.00%
  Latency Distribution
     50%  11.50ms
     75%   14.00ms
     90%   18.00ms
     99%    1.20s
  12987 requests in 10.01s, 5.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   1297.40
Transfer/sec:    511.23KB
"""


def test_wrk_report_is_read_with_its_units():
    assert bench.parse_wrk(WRK) == {"requests_per_s": 1297.4, "p50_ms": 11.5, "p99_ms": 1200.0, "non_2xx_3xx": 4,
                                    "socket_errors": 3}
    clean = WRK.replace("11.50ms", "850.00us").split("  Socket errors")[0] + "Requests/sec:   88.00\n"
    assert bench.parse_wrk(clean) == {"requests_per_s": 88.0, "p50_ms": 0.85, "p99_ms": 1200.0, "non_2xx_3xx": 0,
                                      "socket_errors": 0}


def task(play, name, start, end, role=None):
    return {"play": play, "role": role, "task": name, "start": start, "end": end, "results": {}}


def test_deploy_time_is_split_by_play_and_task():
    build = "Build and test the release everywhere, run the release commands once"
    run = {"timings": {"tasks": [
        task("Learn the estate", "Gathering Facts", 0, 3),
        task(build, "Clone the repository", 3, 10, "pyops.webstack.python_app"),
        task(build, "Run the app's tests in the new release (nothing live has changed yet)", 10, 14),
        task(build, "Run the release commands (once per deploy, or on each host), before the switch", 14, 15),
        task("Switch the web hosts one at a time", "Drain", 15, 40),
        task("Switch the worker hosts and restart their workers warm", "Restart", 40, 52),
        task("Say what runs where", "Summary", 52, 53),
        task("Say what runs where", "never ended", 53, None),
    ]}}
    assert bench.deploy_phases(run) == {"build": 7, "app tests": 4, "release commands": 1, "switch web hosts": 25,
                                        "switch workers": 12, "facts and summary": 4}
    assert bench.per_role(run) == {"(plays)": 46, "python_app": 7}


def test_a_moment_is_placed_in_the_task_that_was_running():
    timings = {"tasks": [task("Switch the web hosts one at a time", "Drain", 100.0, 110.0),
                         task("Build", "Install the release virtualenv", 110.0, 130.5, "pyops.webstack.python_app"),
                         task("Build", "never ended", 131.0, None)]}
    assert bench.task_at(timings, 105.2) == "Drain (Switch the web hosts one at a time)"
    assert bench.task_at(timings, 110.0) == "Install the release virtualenv (python_app)"
    assert bench.task_at(timings, 130.7) == "between tasks"
    assert bench.task_at(timings, 999.0) == "never ended (Build)"


def test_timing_callback_records_plays_tasks_and_results(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- name: First play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Change something
      ansible.builtin.command: "true"
      changed_when: true
    - name: Skip something
      ansible.builtin.debug:
        msg: never
      when: false
- name: Second play
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail quietly
      ansible.builtin.command: "false"
      changed_when: false
      ignore_errors: true
""", encoding="utf-8")
    out = tmp_path / "timings.json"
    env = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=str(ROOT / "tests" / "bench" / "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="bench_timings", BENCH_TIMINGS_FILE=str(out),
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    result = subprocess.run([str(BIN / "ansible-playbook"), "-c", "local", "-i", "localhost,", "-e",
                             f"ansible_python_interpreter={sys.executable}", str(playbook)],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [play["name"] for play in data["plays"]] == ["First play", "Second play"]
    assert [(t["play"], t["task"], t["results"]) for t in data["tasks"]] == [
        ("First play", "Change something", {"changed": 1}),
        ("First play", "Skip something", {"skipped": 1}),
        ("Second play", "Fail quietly", {"ignored": 1}),
    ]
    assert all(t["start"] <= t["end"] for t in data["tasks"])
    assert (data["stats"]["localhost"]["changed"], data["stats"]["localhost"]["ignored"]) == (1, 1)


def test_the_default_is_compared_with_the_best_configuration_that_answered():
    figures = {
        "sync": {"/": {"requests_per_s": 270.0}},
        "gthread": {"/": {"requests_per_s": 300.0}},
        "gevent": {"error": "site.yml failed"},
    }
    assert bench.share_of_best(figures, "sync") == 90.0
    assert bench.share_of_best(figures, "gthread") == 100.0
    assert bench.share_of_best(figures, "gevent") is None


def test_the_median_round_is_reported_with_all_rounds_and_every_error():
    runs = [{"requests_per_s": 500.0, "p99_ms": 70.0, "non_2xx_3xx": 0, "socket_errors": 6},
            {"requests_per_s": 380.0, "p99_ms": 90.0, "non_2xx_3xx": 1, "socket_errors": 0},
            {"requests_per_s": 610.0, "p99_ms": 40.0, "non_2xx_3xx": 0, "socket_errors": 0}]
    assert bench.median_run(runs) == {"requests_per_s": 500.0, "p99_ms": 70.0, "non_2xx_3xx": 1, "socket_errors": 6,
                                      "runs_requests_per_s": [500.0, 380.0, 610.0]}


MACHINE = {"cpus": 2, "cpu": "CPU A", "memory_gib": 23.5, "os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1",
           "docker": "20.10", "ansible": "ansible [core 2.19.14]", "python": "3.11.7"}


def test_the_report_names_each_steps_machine_when_partial_runs_were_on_others():
    other = {**MACHINE, "cpu": "CPU B"}
    measured = dict.fromkeys(("converge", "serving", "baseline"), "2026-11-22 13:04 UTC")
    one = {"machine": MACHINE, "measured": measured, "machines": dict.fromkeys(measured, MACHINE)}
    assert bench.machines_line(one).startswith("all on one machine: 2 CPUs (CPU A)")
    mixed = {**one, "machine": other, "machines": {"converge": MACHINE, "serving": MACHINE, "baseline": other}}
    line = bench.machines_line(mixed)
    assert "converge, serving on 2 CPUs (CPU A)" in line and "baseline on 2 CPUs (CPU B)" in line
    # Figures from before steps recorded their machine are not credited to the latest one.
    unrecorded = {**one, "machine": other, "machines": {"baseline": other}}
    line = bench.machines_line(unrecorded)
    assert "converge, serving on a machine this report did not record" in line and "CPU A" not in line


SITE = """upstream webapp_app {
    server unix:/srv/webapp/run/live.sock;
}

server {
    listen 443 ssl;
    server_name localhost;
    location / {
        proxy_pass http://webapp_app;
    }
}

server {
    listen 172.18.0.4:8080;
    server_name localhost;
    allow 172.18.0.2;
    allow 172.18.0.9;
    deny all;
    location / {
        proxy_pass http://webapp_app;
    }
}
"""


def test_our_plain_http_side_is_the_load_balancers_server_opened_on_loopback():
    copy = bench.plain_copy(SITE, "127.0.0.1:8082")
    assert copy.startswith("server {\n    listen 127.0.0.1:8082;\n")
    assert "allow" not in copy and "deny" not in copy and "ssl" not in copy and "upstream" not in copy
    assert "proxy_pass http://webapp_app;" in copy and copy.count("server {") == 1
    with pytest.raises(RuntimeError, match="no plain-HTTP server"):
        bench.plain_copy(SITE.split("server {\n    listen 172")[0], "127.0.0.1:8082")


def test_cpu_per_request_counts_the_measured_sides_app_server_and_nginx_only():
    before = {"ours": 1000, "book": 500, "nginx": 200, "hz": 100}
    after = {"ours": 1150, "book": 900, "nginx": 215, "hz": 100}
    # 150 ticks of 10 ms over 1,500 requests: 1 ms each; the other side's 400 ticks are not ours.
    assert bench.cpu_per_request(before, after, "ours", 1500) == {"app_server": 1.0, "nginx": 0.1}
    assert bench.cpu_per_request(before, after, "book", 1000) == {"app_server": 4.0, "nginx": 0.15}
    assert bench.cpu_per_request(before, after, "ours", 0) is None


def side(rate, app_ms=None):
    figures = {"requests_per_s": rate, "p99_ms": 30.0, "non_2xx_3xx": 0, "socket_errors": 1,
               "runs_requests_per_s": [rate]}
    if app_ms is not None:
        figures["cpu_ms_per_request"] = {"app_server": app_ms, "nginx": 0.1}
    return figures


def test_the_baseline_section_gives_each_of_our_sides_its_share_of_the_books():
    baseline = {"host": "web1", "python": "3.11.2", "ours": "gunicorn sync", "book": "4 x 2",
                "figures": {"/": {"ours": side(750.0, 2.0), "ours_http": side(800.0, 1.9), "book": side(1000.0, 1.7)}}}
    text = "\n".join(bench.baseline_section(baseline))
    assert "| `/` | 750.0 | 800.0 | 1000.0 | 75% | 80% | 30.0 / 30.0 / 30.0 | 1 / 1 / 1 |" in text
    assert "| `/` | 2.0 | 1.9 | 1.7 | 0.1 | 0.1 | 0.1 |" in text
    # A result from before the plain-HTTP side and the CPU figures: two sides, no CPU table.
    old = {**baseline, "figures": {"/": {"ours": side(750.0), "book": side(1000.0)}}}
    text = "\n".join(bench.baseline_section(old))
    assert "| `/` | 750.0 | 1000.0 | 75% |" in text
    assert "ours HTTP requests/s" not in text and "plain HTTP through" not in text and "CPU time" not in text


def test_the_sweep_section_shows_each_configurations_rounds_when_it_has_them():
    def path(rate, *runs):
        return {"requests_per_s": rate, "p99_ms": 20.0, **({"runs_requests_per_s": list(runs)} if runs else {})}
    figures = {"uwsgi": {"running": {"web1": "uwsgi 4x2", "web2": "uwsgi 4x2"},
                         "/": path(350.4, 340.0, 350.4, 362.0), "/healthz": path(700.0, 690.0, 700.0, 705.0)},
               "gevent": {"error": "site.yml failed"}}
    sweep = {"figures": figures, "default": "uwsgi", "restored_rc": 0, "rounds": 3, "default_percent_of_best": 100.0}
    text = "\n".join(bench.sweep_section(sweep))
    assert "| uwsgi | uwsgi 4x2 | 350.4 | 20.0 | 700.0 | 20.0 | 340, 350, 362 / 690, 700, 705 |" in text
    assert "| gevent | broke: site.yml failed |" in text
    assert "3 rounds of 10 s for each path" in text
    # A result from before the sweep had rounds: one round each, no rounds column.
    old = {**sweep, "figures": {"uwsgi": {**figures["uwsgi"], "/": path(350.4), "/healthz": path(700.0)}}}
    del old["rounds"]
    text = "\n".join(bench.sweep_section(old))
    assert "| uwsgi | uwsgi 4x2 | 350.4 | 20.0 | 700.0 | 20.0 |" in text and "rounds, /" not in text
    assert "one 10-second round for each path" in text


def test_the_ssh_inventory_puts_the_demo_host_in_every_demo_group_reached_over_ssh():
    import yaml
    demo = yaml.safe_load((ROOT / "inventories" / "demo" / "hosts.yml").read_text(encoding="utf-8"))
    inventory = bench.ssh_inventory("10.1.2.3", "/keys/admin", "/keys/known_hosts")["all"]
    assert set(inventory["children"]) == set(demo["all"]["children"])
    for group, members in demo["all"]["children"].items():
        assert inventory["children"][group]["hosts"] == {host: {"ansible_host": "10.1.2.3"}
                                                         for host in members["hosts"]}
    assert inventory["vars"]["ansible_connection"] == "ssh" and inventory["vars"]["ansible_user"] == "admin"
    assert inventory["vars"]["ansible_ssh_private_key_file"] == "/keys/admin"
    assert "UserKnownHostsFile=/keys/known_hosts" in inventory["vars"]["ansible_ssh_common_args"]
    assert "docker" not in json.dumps(inventory)


def test_the_slowest_tasks_sum_a_tasks_time_over_its_runs_and_skip_unfinished_ones():
    run = {"timings": {"tasks": [
        task("Harden", "Install packages", 0, 4.0, "pyops.webstack.hardening"),
        task("Harden", "Gathering Facts", 4.0, 5.5),
        task("App", "Install packages", 5.5, 6.0, "pyops.webstack.hardening"),
        task("App", "Check the venv", 6.0, 9.25, "pyops.webstack.python_app"),
        task("App", "never ended", 9.25, None),
    ]}}
    assert bench.slowest_tasks(run, count=2) == [{"task": "Install packages (hardening)", "seconds": 4.5},
                                                 {"task": "Check the venv (python_app)", "seconds": 3.25}]
    assert [t["task"] for t in bench.slowest_tasks(run)][-1] == "Gathering Facts (Harden)"


def test_the_ssh_section_shows_every_second_run_and_where_the_fastest_spends_its_time():
    def again(wall, rc=0, slowest=None, error=None):
        return {"wall_s": wall, "tasks": 174, "changed": 0, "rc": rc, "failed_tasks": [], "error": error,
                **({"slowest": slowest} if slowest else {})}
    ssh = {"create_s": 20.5,
           "fresh": {"wall_s": 600.0, "tasks": 212, "changed": 111, "rc": 0, "roles": {"hardening": 200.0}},
           "again": {"defaults": again(97.5, slowest=[{"task": "Gathering Facts (Harden)", "seconds": 9.0}]),
                     "Mitogen": again(35.8, slowest=[{"task": "Install packages (hardening)", "seconds": 2.5}]),
                     "broken": again(12.0, rc=2, error="UNREACHABLE! demo-web"),
                     "missing": {"error": "mitogen is not installed"}},
           "healthz_after": "200"}
    text = "\n".join(bench.ssh_section(ssh, images=["converge-ssh.png"]))
    assert "600.0 s wall, 212 tasks, changed 111, rc 0" in text and "| hardening | 200.0 |" in text
    assert "| defaults | 97.5 | 174 | 0 | 0 | none |" in text
    assert "| broken | 12.0 | 174 | 0 | 2 | UNREACHABLE! demo-web |" in text
    assert "| missing | - | - | - | - | mitogen is not installed |" in text
    # The fastest run that recorded its tasks is the one broken down, not the broken run that ended sooner.
    assert "fastest second run (Mitogen, 35.8 s)" in text and "| Install packages (hardening) | 2.5 |" in text
    assert "Gathering Facts (Harden)" not in text
    assert "HTTP 200" in text and "converge-ssh.png" in text
    assert bench.ssh_section({"create_s": 20.5}) == ["### The demo estate over SSH", "",
                                                     "No figures: the step broke before the fresh run ended.", ""]


def test_each_cached_second_run_gets_its_own_cache_filled_outside_the_measured_run(monkeypatch):
    calls = []

    def playbook(name, path, env=None, **target):
        cache = (env or {}).get("ANSIBLE_CACHE_PLUGIN_CONNECTION")
        calls.append((name, Path(path).name, cache, cache is not None and Path(cache).is_dir(), target))
        return {"name": name, "rc": 0, "wall_s": 1.0, "tasks": 1, "changed": 0, "failed_tasks": [], "error": None,
                "timings": {"tasks": [task("Play", "Check", 0, 1.5, "pyops.webstack.hardening")]}}

    monkeypatch.setattr(bench, "playbook", playbook)
    runs = [("defaults", "again-defaults", {"ANSIBLE_PIPELINING": "False"}, False),
            ("cached", "again-cached", {"ANSIBLE_PIPELINING": "True"}, True),
            ("cached too", "again-cached-too", {}, True)]
    again = bench.second_runs(Path("site.yml"), runs, inventory="inv")
    assert [(name, path) for name, path, *_ in calls] == [
        ("again-defaults", "site.yml"), ("again-cached-fill", "fill_facts.yml"), ("again-cached", "site.yml"),
        ("again-cached-too-fill", "fill_facts.yml"), ("again-cached-too", "site.yml")]
    assert calls[0][2] is None  # the defaults' run reads no cache and fills none
    # Each cached run reads the cache its fill wrote, a new one each, existing during the runs, gone afterwards.
    assert calls[1][2] == calls[2][2] and calls[3][2] == calls[4][2] and calls[1][2] != calls[3][2]
    assert all(exists for _, _, cache, exists, _ in calls if cache)
    assert not Path(calls[2][2]).exists() and not Path(calls[4][2]).exists()
    assert all(target == {"inventory": "inv"} for *_, target in calls)
    assert list(again) == ["defaults", "cached", "cached too"]
    assert again["cached"]["roles"] == {"hardening": 1.5} and "timings" not in again["cached"]
    assert again["cached"]["slowest"] == [{"task": "Check (hardening)", "seconds": 1.5}]


def test_a_way_run_in_rounds_reports_its_median_round_and_every_round(monkeypatch):
    walls = iter([31.0, 29.5, 30.2, 12.0, 40.0, 41.0])
    calls = []

    def playbook(name, path, env=None, **target):
        calls.append((name, (env or {}).get("ANSIBLE_CACHE_PLUGIN_CONNECTION")))
        wall = next(walls) if Path(path).name == "site.yml" else 0.5
        rc = 2 if wall == 12.0 else 0  # a broken round ends soonest: it must not be taken as the median
        return {"name": name, "rc": rc, "wall_s": wall, "tasks": 1, "changed": 0, "failed_tasks": [],
                "error": None if rc == 0 else "UNREACHABLE!",
                "timings": {"tasks": [task("Play", "Check", 0, wall, "pyops.webstack.hardening")]}}

    monkeypatch.setattr(bench, "playbook", playbook)
    runs = [("Mitogen", "again-mitogen", {}, False), ("Mitogen cached", "again-mitogen-cached", {}, True)]
    again = bench.second_runs(Path("site.yml"), runs, rounds=3)
    assert [name for name, _ in calls] == [
        "again-mitogen-1", "again-mitogen-2", "again-mitogen-3",
        "again-mitogen-cached-1-fill", "again-mitogen-cached-1", "again-mitogen-cached-2-fill",
        "again-mitogen-cached-2", "again-mitogen-cached-3-fill", "again-mitogen-cached-3"]
    caches = [cache for name, cache in calls if name.startswith("again-mitogen-cached")]
    assert len(set(caches)) == 3  # a fresh cache each round, shared by the round's fill and run only
    assert again["Mitogen"]["wall_s"] == 30.2 and again["Mitogen"]["rounds_wall_s"] == [31.0, 29.5, 30.2]
    assert again["Mitogen cached"]["wall_s"] == 41.0 and again["Mitogen cached"]["rc"] == 0
    assert again["Mitogen cached"]["rounds_rc"] == [2, 0, 0]
    ssh = {"create_s": 1.0, "fresh": {"wall_s": 9.0, "tasks": 1, "changed": 1, "rc": 0, "roles": {}}, "again": again}
    text = "\n".join(bench.ssh_section(ssh))
    assert "| Mitogen | 30.2 (median of 31.0, 29.5, 30.2) | 1 | 0 | 0 | none |" in text
    assert "Mitogen and Mitogen cached ran 3 times in a row" in text


def test_the_summary_has_exactly_the_headline_keys_and_null_for_steps_not_run():
    results = {
        "errors": {"ssh": "broke"},
        "deploy": {"deploys": {"deploy.yml v1.1.0 (uv)": {"wall_s": 28.5}, "rollback.yml": {"wall_s": 12.0}},
                   "zero_downtime": {"deploy.yml v1.1.0 (uv)": {"sent": 5000, "non_2xx": 1, "connection_errors": 2}}},
        "converge": {"fresh": {"wall_s": 230.0}, "again": {"defaults (linear, pipelining)": {"wall_s": 58.0}}},
        "ssh": {"again": {"pipelining": {"wall_s": 29.0}}},
    }
    out = bench.summary(results, ["deploy", "ssh"])
    assert list(out) == [
        "deploy_2web_1worker_s", "book_deploy_s", "rollback_s", "deploy_failed_requests", "deploy_requests",
        "deploy_web_hosts_1_s", "deploy_web_hosts_2_s", "deploy_web_hosts_4_s", "deploy_web_hosts_8_s",
        "second_run_5hosts_stock_s", "second_run_5hosts_mitogen_s", "second_run_ssh_stock_s",
        "second_run_ssh_mitogen_s", "first_run_5hosts_s"]
    assert (out["deploy_2web_1worker_s"], out["rollback_s"], out["deploy_requests"]) == (28.5, 12.0, 5000)
    assert out["deploy_failed_requests"] == 3
    # Not run in this bench (converge), failed (ssh), or not measured by the step (the book's deploy): null.
    assert out["first_run_5hosts_s"] is None and out["second_run_5hosts_stock_s"] is None
    assert out["second_run_ssh_stock_s"] is None and out["book_deploy_s"] is None
