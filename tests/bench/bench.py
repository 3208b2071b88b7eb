#!/usr/bin/env python3
"""`make bench`: measure the estate of the stack scenario and write bench/report.md, bench/results.json and plots.

    tests/bench/bench.py [--keep] [--only ssh,converge,venv,deploy,serving,hardening,sweep,baseline]
                         [--report-only]

Benchmarks are not tests: nothing here passes or fails on a figure. A step that breaks is reported as broken
(with its error) and the run goes on with the next. Load only ever goes to the project's own containers, from
inside one of them (the load balancer; web1 for the baseline) to its own 127.0.0.1, bounded in count and time.

Figures, on the five containers of molecule/stack (lb, web1 Debian 12, web2 Debian 13, worker, data) except ssh:
0. ssh: the single-host demo estate (molecule/demo's container, given sshd and an admin in sudo with a key as a
   cloud image has them) converged over SSH: fresh, then the second run with ansible's defaults, pipelining,
   fact caching and Mitogen's strategy; it refuses to run while a `make demo` is up (same container names);
1. converge: a fresh site.yml, time per role; the second (idempotent) run with ansible's defaults, with fact
   caching, and with Mitogen's strategy;
2. deploy: deploy.yml of a new version split into build, tests, release commands and switches; uv against pip
   for the release virtualenv, in the deploy and on its own with cold and warm caches;
3. serving: requests/s and latency through the load balancer for `/`, a static file and the health path,
   against nginx answering by itself on the same container (the ceiling); then the default (uWSGI) and
   gunicorn's sync, gthread and gevent workers in turn (sweep); our defaults against the book's uwsgi.ini and
   nginx.conf on one web host (baseline);
4. zero downtime: what the load saw during deploy.yml, rollback.yml and a plain restart (the negative control);
5. hardening: Lynis index stock against hardened (Debian 12 and 13), ssh-audit, headers, TLS protocols.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
LOGS = REPO / ".cache" / "bench"
STATE = REPO / ".cache" / "molecule" / "stack"
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"
sys.path.insert(0, str(REPO / "tests" / "harness"))
sys.path.insert(0, str(REPO / "molecule"))
sys.path.insert(0, str(REPO / "molecule" / "stack" / "tests"))
from container_args import docker_run_args  # noqa: E402
from estate import LIVE_PROGRAM  # noqa: E402 - as the tests name the live program
from stack import LB, WEB  # noqa: E402 - the stack scenario's container names
from webstack_testing import (  # noqa: E402 - as the tests do
    SSH_AUDIT_POLICIES, Load, lynis_hardening_index, wait_out_fail_window)

WEB1, WEB2 = WEB
# The load during deploys: as the stack scenario's tests send it (150 a second over new TLS connections).
LOAD = ["--port=443", "--tls", "--path=/healthz", "--requests=360000", "--seconds=1200", "--concurrency=8",
        "--rate=150"]


def log(message):
    print(f"bench: {message}", flush=True)


def run(argv, check=True, timeout=1800, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {result.returncode}: "
                           f"{(result.stdout + result.stderr)[-2000:]}")
    return result


def sh(container, script, check=True, timeout=600):
    return run(["docker", "exec", container, "bash", "-c", script], check=check, timeout=timeout)


# ---------------------------------------------------------------------------------------------------------------
# Playbook runs with timings


def playbook(name, path, extra_vars=None, env=None, state=STATE, inventory=None, config=None):
    """Run a playbook as molecule runs converge (the stack scenario's unless told otherwise: another scenario's
    state folder, an inventory and an ansible.cfg of the bench's own); return its timings and outcome."""
    LOGS.mkdir(parents=True, exist_ok=True)
    timings = LOGS / f"{name}.timings.json"
    environment = dict(
        os.environ, ANSIBLE_CONFIG=str(config or state / "ansible.cfg"),
        MOLECULE_EPHEMERAL_DIRECTORY=str(state.resolve()),
        ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
        ANSIBLE_CALLBACKS_ENABLED="bench_timings", BENCH_TIMINGS_FILE=str(timings),
    )
    environment.update(env or {})
    argv = ["ansible-playbook", "-i", str(inventory or state / "inventory"), str(path)]
    if extra_vars:
        argv += ["--extra-vars", json.dumps(extra_vars)]
    timings.unlink(missing_ok=True)
    log(f"{name}: ansible-playbook {path.name} {json.dumps(extra_vars or {})}")
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=3600, check=False)
    wall = time.monotonic() - started
    (LOGS / f"{name}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    data = json.loads(timings.read_text(encoding="utf-8")) if timings.exists() else {"tasks": [], "plays": []}
    changed = sum(host.get("changed", 0) for host in data.get("stats", {}).values())
    failed = [f"{task['task']} ({task['role'] or task['play']})" for task in data["tasks"]
              if task["results"].get("failed") or task["results"].get("unreachable")]
    log(f"{name}: rc {result.returncode}, {wall:.1f} s, {len(data['tasks'])} tasks, changed {changed}")
    return {"name": name, "rc": result.returncode, "wall_s": round(wall, 1), "tasks": len(data["tasks"]),
            "changed": changed, "failed_tasks": failed[:5], "timings": data,
            "error": None if result.returncode == 0 else (result.stdout + result.stderr)[-1500:]}


def task_label(task):
    """A task as the report names it: its name and, in brackets, its role (or play when it has none)."""
    return f"{task['task']} ({(task['role'] or task['play'] or '').replace('pyops.webstack.', '')})"


def summed_seconds(run_result, key):
    """The run's finished tasks' seconds summed by key(task), longest first."""
    sums = {}
    for task in run_result["timings"]["tasks"]:
        if task["end"] is not None:
            sums[key(task)] = sums.get(key(task), 0) + task["end"] - task["start"]
    return sorted(sums.items(), key=lambda item: -item[1])


def per_role(run_result):
    return {role: round(seconds, 1) for role, seconds in summed_seconds(
        run_result, lambda task: (task["role"] or "(plays)").replace("pyops.webstack.", ""))}


def deploy_phases(run_result):
    """Split deploy.yml's time: build, the app's tests, release commands, switching web hosts and workers."""
    phases = {"build": 0.0, "app tests": 0.0, "release commands": 0.0, "switch web hosts": 0.0,
              "switch workers": 0.0, "facts and summary": 0.0}
    for task in run_result["timings"]["tasks"]:
        if task["end"] is None:
            continue
        seconds = task["end"] - task["start"]
        play, name = task["play"] or "", task["task"]
        if play.startswith("Build"):
            if "release commands" in name:
                phases["release commands"] += seconds
            elif "app's tests" in name:
                phases["app tests"] += seconds
            else:
                phases["build"] += seconds
        elif play.startswith("Switch the web"):
            phases["switch web hosts"] += seconds
        elif play.startswith("Switch the worker"):
            phases["switch workers"] += seconds
        else:
            phases["facts and summary"] += seconds
    return {phase: round(seconds, 1) for phase, seconds in phases.items()}


def slim(run_result):
    return {key: value for key, value in run_result.items() if key != "timings"}


def slowest_tasks(run_result, count=10):
    """The run's slowest tasks (a task's time is summed over its hosts' plays when it ran more than once)."""
    return [{"task": label, "seconds": round(seconds, 2)}
            for label, seconds in summed_seconds(run_result, task_label)[:count]]


# ---------------------------------------------------------------------------------------------------------------
# Load


def under_load(action):
    load = Load(LB, *LOAD)
    outcome = action()
    time.sleep(2)
    result = load.stop()
    if isinstance(outcome, dict) and "timings" in outcome:
        for slow in result.get("slowest", []):
            slow["task"] = task_at(outcome["timings"], result["started_epoch"] + slow["at_s"])
    return outcome, result


def task_at(timings, epoch):
    """The play's task (and its role) that was running at that moment, from the timing callback's record."""
    for task in timings["tasks"]:
        if task["start"] <= epoch < (task["end"] or float("inf")):
            return task_label(task)
    return "between tasks"


# ---------------------------------------------------------------------------------------------------------------
# The steps


def step_create(results):
    run(["molecule", "destroy", "-s", "stack"], cwd=REPO, timeout=600)
    started = time.monotonic()
    run(["molecule", "create", "-s", "stack"], cwd=REPO, timeout=1200)
    results["create_s"] = round(time.monotonic() - started, 1)


def step_converge(results):
    converge = REPO / "molecule" / "stack" / "converge.yml"
    fresh = playbook("converge-fresh", converge)
    results["fresh"] = slim(fresh) | {"roles": per_role(fresh)}
    if fresh["rc"] != 0:
        raise RuntimeError(f"the fresh site.yml failed: {fresh['error']}")
    runs = [("defaults (linear, pipelining)", "converge-again-linear", {}, False),
            ("fact caching (jsonfile, gathering=smart)", "converge-again-factcache", {}, True)]
    mitogen, missing = mitogen_runs("converge-again-mitogen")
    results["again"] = second_runs(converge, runs + mitogen) | missing


def fact_cache_env(cache):
    return {"ANSIBLE_GATHERING": "smart", "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": cache, "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "3600"}


FILL_FACTS = Path(__file__).resolve().parent / "fill_facts.yml"


def second_runs(path, runs, rounds=1, **target):
    """The second (idempotent) run of a playbook each way in `runs`: (label, log name, env, with a fact cache).
    A run with a fact cache gets a cache of its own, filled
    just before it by fill_facts.yml, outside the measured run: filled during a measured run, `gathering = smart`
    would skip the facts that run had already gathered, and it would gather less than ansible's default does.
    With `rounds` above 1 each way runs that many times in a row (a fresh cache each round); its figures are the
    median round's, and every round's wall time is kept. `target` is playbook()'s state, inventory and config (the
    stack's when empty)."""
    again = {}
    for label, name, env, cached in runs:
        results = []
        for number in range(1, rounds + 1):
            log = name if rounds == 1 else f"{name}-{number}"
            cache = tempfile.mkdtemp(prefix="bench-facts-") if cached else None
            try:
                run_env = env | fact_cache_env(cache) if cache else env
                if cache:
                    playbook(f"{log}-fill", FILL_FACTS, env=run_env, **target)
                results.append(playbook(log, path, env=run_env, **target))
            finally:
                if cache:
                    shutil.rmtree(cache, ignore_errors=True)
        result = sorted(results, key=lambda r: (r["rc"] != 0, r["wall_s"]))[(len(results) - 1) // 2]
        again[label] = slim(result) | {"roles": per_role(result), "slowest": slowest_tasks(result)}
        if rounds > 1:
            again[label]["rounds_wall_s"] = [r["wall_s"] for r in results]
            again[label]["rounds_rc"] = [r["rc"] for r in results]
    return again


def mitogen_env():
    import ansible_mitogen  # noqa: PLC0415 - optional, from tests/bench/requirements.txt
    strategies = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(strategies), "ANSIBLE_STRATEGY": "mitogen_linear"}


def mitogen_runs(name, with_fact_cache=False):
    """Mitogen's second runs for second_runs(), and the report's entry saying why there are none (mitogen not
    installed) or nothing."""
    try:
        env = mitogen_env()
    except ImportError as error:
        return [], {"Mitogen (mitogen_linear)": {"error": f"mitogen is not installed: {error}"}}
    return [("Mitogen (mitogen_linear)", name, env, False)] + (
        [("Mitogen and fact caching", f"{name}-factcache", env, True)] if with_fact_cache else []), {}


DEMO = "demo-web"
MADE = set()  # estates this run created besides the stack's, removed at the end unless --keep
DEMO_STATE = REPO / ".cache" / "molecule" / "demo"
# ansible.cfg of the SSH runs: what a user's project would have, nothing the harness adds. SSH connection reuse
# (ControlMaster/ControlPersist) is ansible's default; pipelining is set per run.
SSH_ROUNDS = 3  # second runs of each Mitogen way over SSH; the median is the figure
SSH_CONFIG = "[defaults]\nforks = 10\ninterpreter_python = auto_silent\nretry_files_enabled = False\n"


def ssh_inventory(address, key, known_hosts):
    """The demo estate (inventories/demo: one host in every group) reached over SSH as an admin in `sudo` with a
    key, as a cloud image gives it and docs/tutorial.md starts, instead of with the docker connection."""
    import yaml  # noqa: PLC0415 - ansible's own dependency
    demo = yaml.safe_load((REPO / "inventories" / "demo" / "hosts.yml").read_text(encoding="utf-8"))
    children = demo["all"]["children"]
    return {"all": {
        "vars": {"ansible_connection": "ssh", "ansible_user": "admin", "ansible_ssh_private_key_file": str(key),
                 "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"},
        "children": {group: {"hosts": {host: {"ansible_host": address} for host in members["hosts"]}}
                     for group, members in children.items()},
    }}


def ssh_estate(workdir):
    """Create the demo's containers and give demo-web what a cloud image has: sshd, an admin in sudo with a key.
    Returns the inventory (the demo's group vars, reached over SSH) and the ansible.cfg to use."""
    if run(["docker", "inspect", DEMO], check=False).returncode == 0:
        raise RuntimeError(f"a demo is running ({DEMO}; make demo): `make demo-destroy` first, this step builds "
                           "its own on the same names")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    MADE.add("demo")
    run(["molecule", "destroy", "-s", "demo"], cwd=REPO, timeout=600)
    started = time.monotonic()
    run(["molecule", "create", "-s", "demo"], cwd=REPO, timeout=1200)
    created = round(time.monotonic() - started, 1)
    key = workdir / "admin"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench-admin", "-f", str(key)])
    sh(DEMO, "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server "
             ">/dev/null && useradd -m -s /bin/bash -G sudo admin && install -d -m 0700 -o admin -g admin "
             "/home/admin/.ssh && echo 'admin ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/90-admin && "
             "chmod 0440 /etc/sudoers.d/90-admin && systemctl enable --now ssh >/dev/null 2>&1", timeout=900)
    put(DEMO, "/home/admin/.ssh/authorized_keys", (workdir / "admin.pub").read_text(encoding="utf-8"))
    sh(DEMO, "chown admin:admin /home/admin/.ssh/authorized_keys && chmod 0600 /home/admin/.ssh/authorized_keys")
    where = address(DEMO)
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(run(["ssh-keyscan", "-t", "ed25519", where]).stdout, encoding="utf-8")
    inventory = workdir / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(json.dumps(ssh_inventory(where, key, known_hosts), indent=1),
                                         encoding="utf-8")
    (inventory / "group_vars").symlink_to(REPO / "inventories" / "demo" / "group_vars")
    config = workdir / "ansible.cfg"
    config.write_text(SSH_CONFIG, encoding="utf-8")
    return created, inventory, config


def step_ssh(results):
    """site.yml of the single-host demo estate over SSH, as a user runs it: fresh, then the second run with
    ansible's defaults, pipelining, fact caching and Mitogen's strategy."""
    workdir = LOGS / "ssh"
    site = REPO / "playbooks" / "site.yml"
    created, inventory, config = ssh_estate(workdir)
    out = {"create_s": created}
    results["ssh"] = out

    target = {"state": DEMO_STATE, "inventory": inventory, "config": config}
    fresh = playbook("ssh-fresh", site, env={"ANSIBLE_PIPELINING": "False"}, **target)
    out["fresh"] = slim(fresh) | {"roles": per_role(fresh)}
    if fresh["rc"] != 0:
        raise RuntimeError(f"the fresh site.yml over SSH failed: {fresh['error']}")
    runs = [("ansible's defaults (ControlPersist, no pipelining)", "ssh-again-defaults",
             {"ANSIBLE_PIPELINING": "False"}, False),
            ("pipelining", "ssh-again-pipelining", {"ANSIBLE_PIPELINING": "True"}, False),
            ("pipelining and fact caching (jsonfile, gathering=smart)", "ssh-again-factcache",
             {"ANSIBLE_PIPELINING": "True"}, True)]
    mitogen, missing = mitogen_runs("ssh-again-mitogen", with_fact_cache=True)
    # The ways near the goal run three times each: one run's wall time moves by a second or two on this machine.
    out["again"] = (second_runs(site, runs, **target) | second_runs(site, mitogen, rounds=SSH_ROUNDS, **target)
                    | missing)
    # Still serving after every run: the demo's health path through its published port on loopback.
    out["healthz_after"] = run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                "https://127.0.0.1:8443/healthz"], check=False).stdout.strip()


def default_server_packages():
    """What python_app installs into a release for its default app server (uWSGI), from the role's own vars."""
    import yaml  # noqa: PLC0415 - ansible's own dependency
    role = yaml.safe_load((REPO / "roles" / "python_app" / "vars" / "main.yml").read_text(encoding="utf-8"))
    return role["__python_app_server_packages"]["uwsgi"]["default"]


def step_venv_builds(results):
    """uv against pip for the release virtualenv on web1, as the deploy user, cold and warm caches."""
    server = default_server_packages()
    env = ("export UV_NATIVE_TLS=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "
           f"S={shlex.quote(' '.join(server))}")
    release = "$(readlink -f /srv/webapp/current)"
    uv = "/opt/pyops-webstack/tools/bin/uv"
    runs = {
        "uv, cold cache": f"{uv} venv -q --python python3 $D && {uv} pip install -q --no-cache --python $D/bin/python -r $R $S",
        "uv, filling its cache": f"{uv} cache clean -q; {uv} venv -q --python python3 $D && {uv} pip install -q --python $D/bin/python -r $R $S",
        "uv, warm cache": f"{uv} venv -q --python python3 $D && {uv} pip install -q --python $D/bin/python -r $R $S",
        "pip, cold cache": "python3 -m venv $D && $D/bin/pip install -q --no-cache-dir -r $R $S",
        "pip, filling its cache": "rm -rf ~/.cache/pip; python3 -m venv $D && $D/bin/pip install -q -r $R $S",
        "pip, warm cache": "python3 -m venv $D && $D/bin/pip install -q -r $R $S",
    }
    figures = {}
    packages = None
    for label, command in runs.items():
        script = (f"set -e; {env}; R={release}/requirements.txt; D=$(mktemp -d /home/deploy/bench-venv.XXXXXX); "
                  f"s=$(date +%s.%N); {command} >/dev/null; e=$(date +%s.%N); "
                  f"n=$(ls -d $D/lib/python3*/site-packages/*.dist-info | grep -vc -e /pip- -e /setuptools-); "
                  f"rm -rf $D; "
                  f"echo $s $e $n")
        samples = []
        # Three samples of each (a "filling" run once: it empties the cache first), the median reported.
        for _ in range(1 if "filling" in label else 3):
            out = sh(WEB1, f"runuser -u deploy -- bash -c {shlex.quote(script)}", timeout=900).stdout.split()
            samples.append(round(float(out[1]) - float(out[0]), 1))
            packages = int(out[2])
        figures[label] = sorted(samples)[len(samples) // 2]
    results["venv_builds"] = {"seconds": figures, "packages": packages, "server": server}


def step_deploys(results):
    deploy = REPO / "molecule" / "stack" / "deploy.yml"
    rollback = REPO / "molecule" / "stack" / "rollback.yml"
    out = {}

    def restart():
        for action in ("stop", "start"):
            for web in (WEB1, WEB2):
                sh(web, f"supervisorctl {action} {LIVE_PROGRAM}")

    _, out["plain restart (negative control)"] = under_load(restart)
    served_again()
    uv_run, out["deploy.yml v1.1.0 (uv)"] = under_load(lambda: playbook("deploy-uv", deploy,
                                                                     {"python_app_version": "v1.1.0"}))
    back, out["rollback.yml to v1.0.0"] = under_load(lambda: playbook("rollback", rollback))
    pip_run, out["deploy.yml v2.0.0 (pip)"] = under_load(
        lambda: playbook("deploy-pip", deploy, {"python_app_version": "v2.0.0", "python_app_use_uv": False}))
    book_run, out[BOOK] = book_deploy()
    results["deploy"] = {"zero_downtime": out}
    results["deploy"]["deploys"] = {
        "deploy.yml v1.1.0 (uv)": slim(uv_run) | {"phases": deploy_phases(uv_run)},
        "rollback.yml": slim(back),
        "deploy.yml v2.0.0 (pip)": slim(pip_run) | {"phases": deploy_phases(pip_run)},
        BOOK: slim(book_run),
    }
    results["deploy"]["slowest_tasks"] = {"deploy.yml v1.1.0 (uv)": slowest_tasks(uv_run),
                                          "rollback.yml": slowest_tasks(back)}


BOOK = "the book's fabfile deploy"


def served_again():
    """After the negative control: both web hosts answer again, then the load balancer lets go of its marks (a deploy
    measured inside that window counts the control's 502s as its own)."""
    for web in (WEB1, WEB2):
        sh(web, "for _ in $(seq 60); do curl -skf -o /dev/null https://localhost/healthz && exit 0; sleep 1; done; "
                "exit 1")
    if not wait_out_fail_window(LB):
        raise RuntimeError("the load balancer still answers 502 after the negative control")


def book_deploy():
    """The book's `fab deploy` on the same hosts, under the same load: set up once as its `fab setup` would (not
    timed), then git pull, pip install -r requirements.txt, the supervisor config copied, supervisor restarted,
    host after host; what it left is removed afterwards."""
    book = REPO / "tests" / "bench" / "book"
    setup = playbook("book-setup", book / "setup.yml", {"book_version": "v1.1.0"})
    if setup["rc"] != 0:
        raise RuntimeError(f"the book's setup failed: {setup['error']}")
    try:
        return under_load(lambda: playbook("book-deploy", book / "deploy.yml", {"book_version": "v2.0.0"}))
    finally:
        playbook("book-teardown", book / "teardown.yml")


CEILING = """server {
    listen 127.0.0.1:8444 ssl http2;
    server_name localhost;
    ssl_certificate CERT;
    ssl_certificate_key KEY;
    access_log off;
    location / { return 200 "ok\\n"; }
}
"""


def parse_wrk(out):
    """wrk --latency's report: requests/s, p50 and p99 in ms, non-2xx/3xx answers and socket errors."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return round(value * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests_per_s": rps, "p50_ms": latency(50), "p99_ms": latency(99),
            "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def install_wrk(container=LB):
    sh(container, "command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null",
       timeout=600)


def wrk(url, container=LB, seconds=10, connections=16):
    return parse_wrk(wrk_output(url, container, seconds, connections))


def wrk_output(url, container=LB, seconds=10, connections=16):
    return sh(container, f"wrk -t2 -c{connections} -d{seconds}s --latency -H 'Host: localhost' {url}",
              timeout=120).stdout


# CPU time of a host's processes by kind, in clock ticks: the book's uWSGI (its virtualenv's path), our app
# server (any other gunicorn or uWSGI), nginx. utime and stime are the fields after the command's name. The
# patterns' brackets keep this script's own shell, whose command line holds them, out of every kind.
CPU_TICKS = r"""for p in /proc/[0-9]*; do
  a=$(tr '\0' ' ' < $p/cmdline 2>/dev/null) || continue
  t=$(sed 's/^.*) //' $p/stat 2>/dev/null | awk '{print $12 + $13}') || continue
  case "$a" in */opt/bench-boo[k]/*) k=book;; *gunicor[n]*|*uwsg[i]*) k=ours;; ngin[x]*) k=nginx;; *) continue;; esac
  echo "$k ${t:-0}"
done | awk '{s[$1] += $2} END {for (k in s) print k, s[k]}'; echo "hz $(getconf CLK_TCK)"
"""


def cpu_ticks(container):
    return {kind: int(ticks) for kind, ticks in
            (line.split() for line in sh(container, CPU_TICKS).stdout.splitlines() if line.strip())}


def cpu_per_request(before, after, app, requests):
    """Milliseconds of CPU per request of the app server (`app`: "ours" or "book") and of nginx, from two
    cpu_ticks() readings around a run that answered `requests`."""
    if not requests:
        return None
    per = {kind: round(1000 * (after.get(kind, 0) - before.get(kind, 0)) / after["hz"] / requests, 3)
           for kind in (app, "nginx")}
    return {"app_server": per[app], "nginx": per["nginx"]}


def wrk_cpu(url, container, app):
    """wrk as wrk(), with the CPU each request cost the app server and nginx on the host that serves it."""
    before = cpu_ticks(container)
    out = wrk_output(url, container)
    after = cpu_ticks(container)
    figures = parse_wrk(out)
    requests = re.search(r"^\s*(\d+) requests in", out, re.M)
    figures["cpu_ms_per_request"] = cpu_per_request(before, after, app, int(requests.group(1)) if requests else 0)
    return figures


def put(container, path, text):
    """Write a file of mode 0644 into a container."""
    with tempfile.NamedTemporaryFile("w", delete=False) as handle:
        handle.write(text)
    run(["docker", "cp", handle.name, f"{container}:{path}"])
    os.unlink(handle.name)
    sh(container, f"chmod 0644 {path}")


def step_serving(results):
    install_wrk()
    site = sh(LB, "cat /etc/nginx/sites-enabled/*").stdout
    cert = re.search(r"^\s*ssl_certificate\s+(\S+);", site, re.M).group(1)
    key = re.search(r"^\s*ssl_certificate_key\s+(\S+);", site, re.M).group(1)
    put(LB, "/etc/nginx/conf.d/zz-bench-ceiling.conf", CEILING.replace("CERT", cert).replace("KEY", key))
    sh(LB, "nginx -t -q && systemctl reload nginx && sleep 1")
    figures = {}
    try:
        figures["nginx alone: return 200 (the ceiling)"] = wrk("https://127.0.0.1:8444/")
        figures["/static/style.css (web hosts' nginx)"] = wrk("https://127.0.0.1/static/style.css")
        figures["/healthz (app, JSON)"] = wrk("https://127.0.0.1/healthz")
        figures["/ (app, template and database)"] = wrk("https://127.0.0.1/")
    finally:
        sh(LB, "rm -f /etc/nginx/conf.d/zz-bench-ceiling.conf && nginx -t -q && systemctl reload nginx")
    results["serving"] = {"tool": "wrk 2 threads, 16 keep-alive connections, 10 s, inside the lb container",
                          "figures": figures}


SWEEP = [
    ("uWSGI (the default: the uwsgi role's 4 processes x 2 threads)", None),
    ("gunicorn sync (2 x CPUs + 1 workers)", {"python_app_server": "gunicorn"}),
    ("gunicorn gthread (same workers x 4 threads)",
     {"python_app_server": "gunicorn", "gunicorn_worker_class": "gthread"}),
    ("gunicorn gevent (same workers x 1000 connections)",
     {"python_app_server": "gunicorn", "gunicorn_worker_class": "gevent"}),
]
SWEEP_ROUNDS = 3


def live_server(web):
    """What the live app server master runs: gunicorn's worker class or uWSGI's processes x threads, read from
    the master's own command line and the config copy it was started with (which must not be newer than it)."""
    out = sh(web, f"pid=$(supervisorctl pid {LIVE_PROGRAM}); "
                  "cmd=$(tr '\\0' ' ' < /proc/$pid/cmdline); "
                  "conf=$(echo \"$cmd\" | sed -n 's/.*--\\(config\\|ini\\) \\([^ ]*\\).*/\\2/p'); "
                  "echo \"$(stat -c %Y /proc/$pid) $(stat -c %Y $conf) $conf\"; cat $conf").stdout
    head, config = out.split("\n", 1)
    started, written, path = head.split()
    if path.endswith(".ini"):
        setting = dict(re.findall(r"^(processes|threads)\s*=\s*(\d+)", config, re.M))
        running = f"uwsgi {setting.get('processes', '?')}x{setting.get('threads', '1')}"
    else:
        match = re.search(r'^worker_class = "(.*)"$', config, re.M)
        running = f"gunicorn {match.group(1) if match else '?'}"
    return running if int(started) >= int(written) else f"unknown (the master is older than its config: {running})"


def share_of_best(figures, default):
    """The default's requests/s for `/` as a percentage of the best configuration's."""
    rates = {label: f["/"]["requests_per_s"] for label, f in figures.items() if "/" in f}
    if default not in rates or not rates:
        return None
    return round(100 * rates[default] / max(rates.values()), 1)


def step_sweep(results):
    """The app-server choices on both web hosts, one after another (site.yml switches each host blue/green),
    then site.yml with the defaults again, so the estate is left as it was."""
    converge = REPO / "molecule" / "stack" / "converge.yml"
    install_wrk()
    figures = {}
    try:
        for label, extra in SWEEP:
            if extra:
                applied = playbook("sweep-" + "-".join(extra.values()), converge, extra)
                if applied["rc"] != 0:
                    figures[label] = {"error": applied["error"][-300:]}
                    continue
            # Rounds, the paths in turn, the median round kept: one 10-second round moved by as much as 20%.
            rounds = {"/": [], "/healthz": []}
            for _ in range(SWEEP_ROUNDS):
                for path, runs in rounds.items():
                    runs.append(wrk(f"https://127.0.0.1{path}"))
            figures[label] = {"running": {web: live_server(web) for web in (WEB1, WEB2)},
                              **{path: median_run(runs) for path, runs in rounds.items()}}
    finally:
        restored = playbook("sweep-restore", converge)
    results["sweep"] = {"figures": figures, "default": SWEEP[0][0], "restored_rc": restored["rc"],
                        "rounds": SWEEP_ROUNDS,
                        "default_percent_of_best": share_of_best(figures, SWEEP[0][0])}


# The book's configuration, as it prints it: its uwsgi.ini, run by supervisor as the book's [program:webapp]
# (command, directory, user), and its nginx.conf. Two changes only, both so it runs beside our site on the same
# host: nginx listens on 8081 instead of 80, and the static alias points at the live release.
BOOK_UWSGI_INI = """[uwsgi]
socket = 127.0.0.1:8080
wsgi-file = wsgi.py
callable = app
processes = 4
threads = 2
"""
BOOK_NGINX = """server {
    listen 8081;
    server_name localhost;

    location / {
        include uwsgi_params;
        uwsgi_pass 127.0.0.1:8080;
    }

    location /static {
        alias RELEASE/webapp/static;
    }
}
"""
BOOK_PROGRAM = """[program:bench-book]
command=/bin/sh -c 'set -a; . /srv/webapp/shared/env; set +a; exec "$0" "$@"' /opt/bench-book/venv/bin/uwsgi \
 /opt/bench-book/uwsgi.ini
directory=RELEASE
user=USER
"""


def plain_copy(site, listen):
    """The plain-HTTP server block of our nginx site (the one with `allow` lines: the load balancers' backend),
    listening on `listen` and open to it, everything else as deployed."""
    blocks = re.findall(r"^server \{\n.*?^\}\n", site, re.M | re.S)
    backend = next((block for block in blocks if re.search(r"^\s*allow ", block, re.M)), None)
    if backend is None:
        raise RuntimeError("our site has no plain-HTTP server for load balancers (no lb in the inventory?)")
    backend = re.sub(r"^(\s*)listen [^;]+;", rf"\g<1>listen {listen};", backend, count=1, flags=re.M)
    return re.sub(r"^\s*(allow [^;]+|deny all);\n", "", backend, flags=re.M)


def median_run(runs):
    """The run with the median requests/s, with every run's requests/s and the errors of all of them."""
    ordered = sorted(runs, key=lambda r: r["requests_per_s"])
    middle = dict(ordered[len(ordered) // 2])
    middle["runs_requests_per_s"] = [r["requests_per_s"] for r in runs]
    middle["non_2xx_3xx"] = sum(r["non_2xx_3xx"] for r in runs)
    middle["socket_errors"] = sum(r["socket_errors"] for r in runs)
    return middle


def step_baseline(results):
    """Our defaults against the book's own configuration on one web host (web1), measured from inside it, same
    release, same database: our nginx site (HTTPS) to the default app server, the same site's plain-HTTP server
    (the one the load balancers reach), the book's nginx.conf (plain HTTP) to its uwsgi.ini (4 processes x 2 threads) in
    a virtualenv with the release's requirements and uWSGI; with the CPU each request cost on the host."""
    web = WEB1
    if sh(web, "ss -ltnH 'sport = :8080' | grep -q '127.0.0.1:8080'", check=False).returncode == 0:
        raise RuntimeError("something listens on 127.0.0.1:8080 already (the book's socket); stop it first")
    install_wrk(web)
    release, user = sh(web, f"sed -n 's/^directory=//p; s/^user=//p' /etc/supervisor/conf.d/{LIVE_PROGRAM}.conf"
                       ).stdout.split()
    python = sh(web, f"{release}/.venv/bin/python -c 'import sys; print(sys.version.split()[0])'").stdout.strip()
    sh(web, "mkdir -p /opt/bench-book && rm -rf /opt/bench-book/venv && "
            f"python3 -m venv /opt/bench-book/venv && /opt/bench-book/venv/bin/pip install -q "
            f"--cert /etc/ssl/certs/ca-certificates.crt -r {release}/requirements.txt pyuwsgi==2.0.30.post1",
       timeout=900)
    put(web, "/opt/bench-book/uwsgi.ini", BOOK_UWSGI_INI)
    put(web, "/etc/supervisor/conf.d/bench-book.conf",
        BOOK_PROGRAM.replace("RELEASE", release).replace("USER", user))
    put(web, "/etc/nginx/sites-available/bench-book", BOOK_NGINX.replace("RELEASE", release))
    # Our site's plain-HTTP server, as deployed (the one the load balancers reach), copied to listen on
    # 127.0.0.1:8082 without its allow/deny lines, which admit the load balancers' addresses only.
    site = sh(web, "cat /etc/nginx/sites-enabled/webapp.conf").stdout
    put(web, "/etc/nginx/sites-available/bench-ours-http", plain_copy(site, "127.0.0.1:8082"))
    figures = {}
    try:
        sh(web, "supervisorctl update bench-book && ln -sf /etc/nginx/sites-available/bench-book "
                "/etc/nginx/sites-enabled/bench-book && ln -sf /etc/nginx/sites-available/bench-ours-http "
                "/etc/nginx/sites-enabled/bench-ours-http && nginx -t -q && systemctl reload nginx && "
                "for i in $(seq 60); do curl -fsS -o /dev/null http://127.0.0.1:8081/healthz && exit 0; sleep 1; done; "
                "supervisorctl tail bench-book stderr; exit 1")
        for path in ("/", "/static/style.css", "/healthz"):
            # Three rounds, each side in turn, so all see the same noise of a shared machine.
            rounds = {"ours": [], "ours_http": [], "book": []}
            for _ in range(3):
                rounds["ours"].append(wrk_cpu(f"https://127.0.0.1{path}", web, "ours"))
                rounds["ours_http"].append(wrk_cpu(f"http://127.0.0.1:8082{path}", web, "ours"))
                rounds["book"].append(wrk_cpu(f"http://127.0.0.1:8081{path}", web, "book"))
            figures[path] = {side: median_run(runs) for side, runs in rounds.items()}
    finally:
        # The book's program stopped as supervisor stops it: without die-on-term, uWSGI 2.0 takes TERM as "reload",
        # and without master or stopasgroup the forked workers outlive it. Count them, then kill them.
        # The pattern's [u] keeps pgrep and pkill from matching this shell, whose command line holds the pattern.
        left = sh(web, "supervisorctl stop bench-book >/dev/null; sleep 3; "
                       "pgrep -fc '/opt/bench-book/venv/bin/[u]wsgi' || true", check=False).stdout.strip()
        sh(web, "pkill -9 -f '/opt/bench-book/venv/bin/[u]wsgi'; "
                "rm -f /etc/nginx/sites-enabled/bench-book /etc/nginx/sites-available/bench-book "
                "/etc/nginx/sites-enabled/bench-ours-http /etc/nginx/sites-available/bench-ours-http "
                "/etc/supervisor/conf.d/bench-book.conf && supervisorctl update && nginx -t -q && "
                "systemctl reload nginx && rm -rf /opt/bench-book", check=False)
    results["baseline"] = {"host": "web1", "python": python, "ours": live_server(web),
                           "book": "4 processes x 2 threads, no master", "figures": figures,
                           "book_processes_left_after_stop": int(left) if left.isdigit() else left}


def ssh_section(ssh, images=()):
    """The demo estate over SSH: its fresh converge per role, the second run each way and its slowest tasks."""
    out = ["### The demo estate over SSH", ""]
    fresh = ssh.get("fresh")
    if not fresh:
        return out + ["No figures: the step broke before the fresh run ended.", ""]
    out += ["`playbooks/site.yml` on the single-host estate of `make demo` (inventories/demo: one Debian 12 "
            "container in every group), reached as a user reaches a server: over SSH, as an admin in `sudo` with a "
            f"key, ansible's own settings (SSH connection reuse is its default). The container was created in "
            f"{ssh['create_s']} s and given sshd and the admin before it. Fresh run, ansible's defaults: "
            f"{fresh['wall_s']} s wall, {fresh['tasks']} tasks, changed {fresh['changed']}, rc {fresh['rc']}.", "",
            table(list(fresh["roles"].items()), ["role", "seconds"]), ""]
    rows = []
    for label, again in ssh.get("again", {}).items():
        if "wall_s" in again:
            broke = "; ".join(again["failed_tasks"]) or ("" if again["rc"] == 0 else again["error"][-200:])
            wall = again["wall_s"]
            if "rounds_wall_s" in again:
                wall = f"{wall} (median of {', '.join(str(w) for w in again['rounds_wall_s'])})"
            rows.append((label, wall, again["tasks"], again["changed"], again["rc"], broke or "none"))
        else:
            rows.append((label, "-", "-", "-", "-", again["error"]))
    if rows:
        rounded = [label for label, again in ssh.get("again", {}).items() if "rounds_wall_s" in again]
        out += ["Second run (nothing to change), goal under 30 s"
                + (f"; {' and '.join(rounded)} ran {len(ssh['again'][rounded[0]]['rounds_wall_s'])} times in a row, "
                   "the median run's figures shown:" if rounded else ":"), "",
                table(rows, ["how", "wall s", "tasks", "changed", "rc", "tasks that broke"]), ""]
    if "converge-ssh.png" in images:
        out += ["![second run over SSH](converge-ssh.png)", ""]
    if "healthz_after" in ssh:
        out += [f"After the runs the demo's `/healthz` answered HTTP {ssh['healthz_after'] or 'nothing'} through "
                "its published port.", ""]
    fastest = min((again for again in ssh.get("again", {}).values() if again.get("slowest")),
                  key=lambda again: again["wall_s"], default=None)
    if fastest:
        label = next(k for k, v in ssh["again"].items() if v is fastest)
        out += [f"Where the fastest second run ({label}, {fastest['wall_s']} s) spends its time, slowest tasks "
                "first:", "", table([(t["task"], t["seconds"]) for t in fastest["slowest"]], ["task (role)",
                                                                                              "seconds"]), ""]
    return out


def sweep_section(sweep):
    """The app-server choices table; results from before the sweep had rounds render without the rounds."""
    rounds = sweep.get("rounds")
    rows = []
    for label, f in sweep["figures"].items():
        if "error" in f:
            rows.append((label, "broke: " + f["error"][-120:], "", "", "", "", *([""] if rounds else [])))
            continue
        row = [label, ", ".join(sorted(set(f["running"].values()))), f["/"]["requests_per_s"], f["/"]["p99_ms"],
               f["/healthz"]["requests_per_s"], f["/healthz"]["p99_ms"]]
        if rounds:
            row.append(" / ".join(", ".join(str(round(r)) for r in f[path].get("runs_requests_per_s", []))
                                  for path in ("/", "/healthz")))
        rows.append(row)
    share = sweep["default_percent_of_best"]
    how = (f"{rounds} rounds of 10 s for each path, the paths in turn, the median round shown" if rounds
           else "one 10-second round for each path")
    header = ["configuration", "running", "/ requests/s", "/ p99 ms", "/healthz requests/s", "/healthz p99 ms"]
    return ["### App-server choices", "",
            "Each set on both web hosts by `site.yml -e python_app_server=... -e gunicorn_worker_class=...` (a "
            f"blue/green switch per host), then measured as above, {how}; `site.yml` with the defaults again after "
            f"the last (rc {sweep.get('restored_rc', '-')}). \"Running\" is read from the live master's command "
            "line and the config copy it started with, which must not be newer than it.", "",
            table(rows, header + (["rounds, / and /healthz"] if rounds else [])), "",
            f"The default's `/` is {share}% of the best configuration's." if share is not None else "", ""]


BASELINE_SIDES = (("ours", "ours HTTPS"), ("ours_http", "ours HTTP"), ("book", "book"))


def baseline_section(baseline):
    """The report's part on our defaults against the book's configuration: requests/s of each side with its share
    of the book's, then what each request cost the host's CPU (results from before the plain-HTTP side and the
    CPU figures existed lack their columns)."""
    sides = [(key, label) for key, label in BASELINE_SIDES
             if all(key in f for f in baseline["figures"].values())]
    rates, costs = [], []
    for path, f in baseline["figures"].items():
        book = f["book"]["requests_per_s"]
        rates.append((f"`{path}`", *(f[key]["requests_per_s"] for key, _ in sides),
                      *(f"{round(100 * f[key]['requests_per_s'] / book)}%" for key, _ in sides if key != "book"),
                      " / ".join(str(f[key]["p99_ms"]) for key, _ in sides),
                      " / ".join(str(f[key]["non_2xx_3xx"] + f[key]["socket_errors"]) for key, _ in sides),
                      " / ".join(", ".join(str(round(x)) for x in f[key].get("runs_requests_per_s", []))
                                 for key, _ in sides)))
        cpu = {key: f[key].get("cpu_ms_per_request") for key, _ in sides}
        if all(cpu.values()):
            costs.append((f"`{path}`", *(cpu[key]["app_server"] for key, _ in sides),
                          *(cpu[key]["nginx"] for key, _ in sides)))
    names = " / ".join(label for _, label in sides)
    out = ["### Against the book's configuration", "",
           f"On {baseline['host']} alone, wrk from inside it (2 threads, 16 connections, 10 s; three rounds, "
           "each side in turn, the median round shown, errors summed over the rounds), the same release and "
           f"database (Python {baseline['python']}). Ours: the nginx role's site to {baseline['ours']} (the "
           "defaults), over HTTPS as a web host without load balancer serves"
           + (", and over plain HTTP through the same site's server for load balancers (copied to 127.0.0.1:8082 "
              "without its allow lines: it admits the load balancers only)" if len(sides) == 3 else "")
           + ". The book's: its uwsgi.ini "
           f"({baseline['book']}) under supervisor as its `[program:webapp]`, behind its nginx.conf over plain "
           "HTTP on port 8081, with the release's requirements and uWSGI in a virtualenv of its own.", "",
           stop_note(baseline.get("book_processes_left_after_stop")), "",
           table(rates, ["path", *(f"{label} requests/s" for _, label in sides),
                         *(f"{label} / book" for key, label in sides if key != "book"), f"p99 ms, {names}",
                         f"errors, {names}", f"rounds, {names}"]), ""]
    if costs:
        out += ["CPU time per request on the web host in the median round (utime + stime of the processes, "
                "before and after the round, divided by the requests answered; the database host's and wrk's "
                "own CPU not counted):", "",
                table(costs, ["path", *(f"app server ms, {label}" for _, label in sides),
                              *(f"nginx ms, {label}" for _, label in sides)]), ""]
    return out


def lynis_index(container):
    sh(container, "command -v lynis >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis "
                  ">/dev/null", timeout=600)
    sh(container, "lynis audit system --quick --no-colors --no-log --report-file /root/lynis-bench.dat >/dev/null",
       timeout=600)
    return lynis_hardening_index(sh(container, "cat /root/lynis-bench.dat").stdout)


def stock_container(release):
    name = f"pyops-bench-stock-{release}"
    run(["docker", "rm", "-f", name], check=False)
    # The same container options as every scenario (molecule/shared/vars/containers.yml).
    run(["docker", "run", "-d", "--name", name, "--hostname", name, "--label", "pyops.webstack.scenario=bench",
         *docker_run_args(f"debian{release}")])
    for _ in range(60):
        state = run(["docker", "exec", name, "systemctl", "is-system-running"], check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    sh(name, "apt-get update -q >/dev/null", timeout=600)
    return name


def address(container):
    return run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                container]).stdout.strip()


def step_hardening(results):
    lynis = {}
    for release, hardened in (("12", WEB1), ("13", WEB2)):
        stock = stock_container(release)
        try:
            lynis[f"Debian {release}"] = {"stock": lynis_index(stock), "hardened": lynis_index(hardened)}
        finally:
            run(["docker", "rm", "-f", stock], check=False)
    ssh_audit = {}
    for release, host in (("12", WEB1), ("13", WEB2)):
        # fail2ban counts ssh-audit's probes as failed logins (two audits get this machine banned): lift the ban
        # before and after, so the audit meets sshd and the estate is left as it was.
        sh(host, "fail2ban-client unban --all >/dev/null")
        audit = run([str(Path(sys.executable).parent / "ssh-audit"), "--no-colors", "--skip-rate-test", "-P", SSH_AUDIT_POLICIES[release],
                     address(host)], check=False, timeout=120)
        verdict = re.search(r"Result:\s*(.*)", audit.stdout)
        sh(host, "fail2ban-client unban --all >/dev/null")
        ssh_audit[f"Debian {release}"] = {"policy": SSH_AUDIT_POLICIES[release], "rc": audit.returncode,
                                          "result": verdict.group(1).strip() if verdict else audit.stdout[-300:]}
    headers_out = sh(LB, "curl -skI -H 'Host: localhost' https://127.0.0.1/").stdout.lower()
    checklist = {
        "Strict-Transport-Security (1 year or more)": bool(re.search(r"strict-transport-security: max-age=(\d{8,})",
                                                                      headers_out)),
        "X-Content-Type-Options: nosniff": "x-content-type-options: nosniff" in headers_out,
        "frame-ancestors or X-Frame-Options": "frame-ancestors" in headers_out or "x-frame-options" in headers_out,
        "Referrer-Policy": "referrer-policy:" in headers_out,
        "Content-Security-Policy": "content-security-policy:" in headers_out,
        "Server header without a version": not re.search(r"^server: .*\d", headers_out, re.M),
    }
    tls = {}
    for flag in ("tls1", "tls1_1", "tls1_2", "tls1_3"):
        out = sh(LB, f"openssl s_client -connect 127.0.0.1:443 -servername localhost -{flag} </dev/null 2>&1",
                 check=False).stdout
        cipher = re.search(r"Cipher is (\S+)", out)
        accepted = bool(cipher) and cipher.group(1) != "(NONE)"
        tls[flag.replace("tls", "TLS ").replace("_", ".")] = cipher.group(1) if accepted else "refused"
    results["hardening"] = {"lynis": lynis, "ssh_audit": ssh_audit, "headers": checklist, "tls": tls}


# ---------------------------------------------------------------------------------------------------------------
# Report


def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text(encoding="utf-8"))
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(encoding="utf-8")).group(1))
    release = re.search(r'PRETTY_NAME="(.*)"', Path("/etc/os-release").read_text(encoding="utf-8"))
    docker = run(["docker", "version", "-f", "{{.Server.Version}}"], check=False).stdout.strip()
    ansible = run(["ansible", "--version"]).stdout.splitlines()[0]
    return {"cpus": os.cpu_count(), "cpu": cpu.group(1) if cpu else platform.machine(),
            "memory_gib": round(memory / 1024 / 1024, 1), "os": release.group(1) if release else platform.platform(),
            "kernel": platform.release(), "docker": docker, "ansible": ansible, "python": platform.python_version()}


def plots(results):
    import matplotlib  # noqa: PLC0415 - optional, from tests/bench/requirements.txt
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    made = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(BENCH / name, dpi=100)
        plt.close(fig)
        made.append(name)

    converge = results.get("converge", {})
    if converge.get("fresh", {}).get("roles"):
        roles = converge["fresh"]["roles"]
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.barh(list(roles)[::-1], list(roles.values())[::-1], color="#4c72b0")
        ax.set_xlabel("seconds (summed over the five hosts' plays)")
        ax.set_title(f"Fresh site.yml, time per role (wall {converge['fresh']['wall_s']} s)")
        save(fig, "converge-roles.png")
    for runs, colour, title, name in (
            (converge.get("again", {}), "#55a868", "Second (idempotent) site.yml of the whole estate",
             "converge-again.png"),
            (results.get("ssh", {}).get("again", {}), "#dd8452", "Second site.yml of the demo estate over SSH",
             "converge-ssh.png")):
        again = {k: v for k, v in runs.items() if "wall_s" in v}
        if again:
            fig, ax = plt.subplots(figsize=(8, 3))
            ax.barh(list(again)[::-1], [v["wall_s"] for v in again.values()][::-1], color=colour)
            ax.axvline(30, color="grey", linestyle="--", label="goal: 30 s")
            ax.set_xlabel("seconds")
            ax.set_title(title)
            ax.legend()
            save(fig, name)
    deploys = {k: v for k, v in results.get("deploy", {}).get("deploys", {}).items() if "phases" in v}
    if deploys:
        fig, ax = plt.subplots(figsize=(8, 3))
        left = [0.0] * len(deploys)
        phases = list(next(iter(deploys.values()))["phases"])
        for phase in phases:
            widths = [d["phases"][phase] for d in deploys.values()]
            ax.barh(list(deploys), widths, left=left, label=phase)
            left = [a + b for a, b in zip(left, widths)]
        ax.set_xlabel("seconds")
        ax.set_title("deploy.yml to 2 web hosts and 1 worker, by phase")
        ax.legend(fontsize=7, loc="lower right")
        save(fig, "deploy-phases.png")
    serving = results.get("serving", {}).get("figures", {})
    if serving:
        fig, (left_ax, right_ax) = plt.subplots(1, 2, figsize=(10, 3.5))
        names = list(serving)[::-1]
        left_ax.barh(names, [serving[n]["requests_per_s"] for n in names], color="#8172b2")
        left_ax.set_xlabel("requests/s")
        right_ax.barh(names, [serving[n]["p99_ms"] for n in names], color="#c44e52")
        right_ax.set_xlabel("p99 latency, ms")
        right_ax.set_yticks([])
        fig.suptitle("Serving through the load balancer (HTTPS, keep-alive)")
        save(fig, "serving.png")
    lynis = results.get("hardening", {}).get("lynis", {})
    if lynis:
        fig, ax = plt.subplots(figsize=(6, 3))
        labels = list(lynis)
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], [lynis[n]["stock"] for n in labels], width=0.4, label="stock image")
        ax.bar([x + 0.2 for x in xs], [lynis[n]["hardened"] for n in labels], width=0.4, label="after site.yml")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels)
        ax.set_ylabel("Lynis hardening index")
        ax.set_ylim(0, 100)
        ax.legend()
        save(fig, "hardening-lynis.png")
    return made


def table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def stop_note(left):
    if not isinstance(left, int):
        return f"How many of the book's uWSGI processes outlived `supervisorctl stop` is unknown ({left!r})."
    if left == 0:
        return "`supervisorctl stop` of the book's program left none of its uWSGI processes running."
    return (f"`supervisorctl stop` of the book's program left {left} of its uWSGI processes running (no "
            "`die-on-term`: uWSGI 2.0 takes TERM as a reload; no `master`, `stopasgroup` or `killasgroup`: the "
            "workers outlive the process supervisor stops). They keep 127.0.0.1:8080, so the program's next start "
            "cannot bind; the bench kills them. Our uwsgi role sets `die-on-term` and `master`, our supervisor "
            "programs `stopasgroup` and `killasgroup`.")


def described(m):
    return (f"{m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, kernel {m['kernel']}, "
            f"Docker {m['docker']}, {m['ansible']}, Python {m['python']}")


def machines_line(results):
    """Where each step ran: one machine for all, or each step's own (a partial run may be on another machine)."""
    measured = results.get("measured", {})
    machines = results.get("machines", {})
    if all(step in machines for step in measured) and len({described(m) for m in machines.values()}) <= 1:
        return "all on one machine: " + described(results["machine"]) + "."
    by_machine = {}
    for step in measured:
        key = described(machines[step]) if step in machines else "a machine this report did not record"
        by_machine.setdefault(key, []).append(step)
    return ("each step on the machine it ran on (a partial run keeps the other steps' figures): " + "; ".join(
        f"{', '.join(steps)} on {where}" for where, steps in by_machine.items()) + ".")


def report(results, images):
    out = [
        "# pyops.webstack benchmark report",
        "",
        "Measured by `make bench` (tests/bench/bench.py), on the five containers "
        "of the stack scenario (lb, web1 Debian 12, web2 Debian 13, worker, data) and, for the converge over "
        "SSH, on the demo's one container, " + machines_line(results),
        "Ansible reaches the stack's containers with the docker connection (no SSH, so SSH connection reuse does "
        "not apply; pipelining is on in every run there) and the demo's over SSH. These are figures, "
        "not tests: nothing here has a threshold.",
        "",
        "Steps measured at: " + ", ".join(f"{step} {when}" for step, when in results.get("measured", {}).items())
        + " (a step run again replaces its own figures only).",
        "",
    ]
    for step, error in results.get("errors", {}).items():
        out += [f"**The {step} step broke, its figures are missing:** `{error[:300]}`", ""]
    converge = results.get("converge")
    if converge:
        fresh = converge["fresh"]
        out += ["## 1. Converge", "",
                f"Fresh `site.yml`: {fresh['wall_s']} s wall, {fresh['tasks']} tasks, rc {fresh['rc']}. "
                f"The containers were created in {results.get('create_s')} s before it.", "",
                table([(role, seconds) for role, seconds in fresh["roles"].items()],
                      ["role (time summed over its plays)", "seconds"]), ""]
        rows = []
        for label, again in converge["again"].items():
            if "wall_s" in again:
                broke = "; ".join(again["failed_tasks"]) or ("" if again["rc"] == 0 else again["error"][-200:])
                rows.append((label, again["wall_s"], again["changed"], again["rc"], broke or "none"))
            else:
                rows.append((label, "-", "-", "-", again["error"]))
        out += ["Second run of the stack's five hosts (nothing to change; the 30-s goal is the demo estate's, below):",
                "",
                table(rows, ["how", "wall s", "changed", "rc", "tasks that broke"]), ""]
        out += ["![time per role](converge-roles.png)" if "converge-roles.png" in images else "",
                "![second run](converge-again.png)" if "converge-again.png" in images else "", ""]
    if results.get("ssh"):
        if not converge:
            out += ["## 1. Converge", ""]
        out += ssh_section(results["ssh"], images)
    deploy = results.get("deploy")
    if deploy:
        rows = []
        for label, d in deploy["deploys"].items():
            phases = d.get("phases", {})
            rows.append((label, d["wall_s"], d["rc"], *(phases.get(p, "-") for p in
                         ("build", "app tests", "release commands", "switch web hosts", "switch workers",
                          "facts and summary"))))
        out += ["## 2. Deploy", "",
                "`deploy.yml` to 2 web hosts and 1 worker (the web hosts switch one at a time, drained from the "
                "load balancer meanwhile). Phases are summed task times; build runs on the three hosts at once. "
                "Since the release engine is a module (pyops.webstack.app_release), the app's tests and the "
                "release commands run inside its build call and count under build; their columns stay for the "
                "older runs' figures.", "",
                table(rows, ["run", "wall s", "rc", "build", "app tests", "release commands", "switch web",
                             "switch workers", "facts, summary"]), ""]
        if "deploy-phases.png" in images:
            out += ["![deploy phases](deploy-phases.png)", ""]
        if BOOK in deploy["deploys"]:
            out += [f"{BOOK}: `git pull`, `pip install -r requirements.txt`, the supervisor config copied and "
                    "`service supervisor restart`, host after host as Fabric runs (tests/bench/book); its failed "
                    "requests are in section 4.", ""]
        for label, tasks in deploy.get("slowest_tasks", {}).items():
            out += [f"The slowest tasks of {label} (seconds summed over the hosts):", "",
                    table([(t["task"], t["seconds"]) for t in tasks], ["task (role)", "seconds"]), ""]
    venv = results.get("venv_builds")
    if venv:
        out += [f"The release virtualenv on its own (web1, as the deploy user, the release's requirements.txt and "
                f"{' '.join(venv.get('server', ['gunicorn']))}, {venv['packages']} packages installed; median of three, "
                "a cache filled once):", "",
                table(list(venv["seconds"].items()), ["build", "seconds"]), ""]
    serving = results.get("serving")
    if serving:
        rows = [(label, f["requests_per_s"], f["p50_ms"], f["p99_ms"], f["non_2xx_3xx"], f["socket_errors"])
                for label, f in serving["figures"].items()]
        out += ["## 3. Serving", "", f"{serving['tool']}; the load generator shares the two cores with "
                "everything it measures.", "",
                table(rows, ["target", "requests/s", "p50 ms", "p99 ms", "non-2xx/3xx", "socket errors"]), ""]
        if "serving.png" in images:
            out += ["![serving](serving.png)", ""]
    sweep = results.get("sweep")
    if sweep:
        out += sweep_section(sweep)
    baseline = results.get("baseline")
    if baseline:
        out += baseline_section(baseline)
    if deploy:
        zero = deploy["zero_downtime"]
        rows = [(label, z.get("sent"), z.get("non_2xx"), z.get("connection_errors"),
                 z.get("latency_ms", {}).get("p50"), z.get("latency_ms", {}).get("p99"),
                 z.get("latency_ms", {}).get("max"), ", ".join(z.get("versions", {})))
                for label, z in zero.items()]
        out += ["## 4. Zero downtime", "",
                "The stack tests' load (150 requests/s, each on a new TLS connection, from inside the lb) while "
                "each runs:", "",
                table(rows, ["during", "requests", "non-2xx", "connection errors", "p50 ms", "p99 ms", "max ms",
                             "versions seen"]), ""]
        slow = [(label, s["at_s"], s["ms"], s["task"]) for label, z in zero.items()
                 for s in z.get("slowest", []) if "task" in s]
        if slow:
            out += ["The five slowest requests of each playbook run, when they were sent (seconds after the load "
                    "started) and the playbook's task running at that moment:", "",
                    table(slow, ["during", "sent at s", "ms", "task running (role)"]), ""]
    hardening = results.get("hardening")
    if hardening:
        out += ["## 5. Hardening", "",
                table([(k, v["stock"], v["hardened"]) for k, v in hardening["lynis"].items()],
                      ["Lynis hardening index", "stock image", "after site.yml"]), ""]
        if "hardening-lynis.png" in images:
            out += ["![lynis](hardening-lynis.png)", ""]
        out += [table([(k, v["policy"], v["result"]) for k, v in hardening["ssh_audit"].items()],
                      ["ssh-audit", "policy", "result"]), "",
                table([(k, "yes" if v else "NO") for k, v in hardening["headers"].items()],
                      ["response header (lb, `/`)", "present"]), "",
                table(list(hardening["tls"].items()), ["protocol offered by the client", "lb answers"]), ""]
    out += ["## Findings", "", "What a person read in these figures lives in [findings.md](findings.md).", ""]
    out += ["## Not measured yet", "", *[f"- {item}" for item in results["not_measured"]], ""]
    return "\n".join(out)


NOT_MEASURED = [
    "the demo estate's fresh converge under Mitogen or with pipelining (only its second run is compared; a fresh "
    "converge under Mitogen passed by hand on 2026-11-22: rc 0, 149.9 s, no role broke);",
    "SSH to the stack's five hosts (the harness reaches them with the docker connection; SSH is measured on the "
    "demo's one host).",
]

STEPS = ["ssh", "converge", "venv", "deploy", "serving", "hardening", "sweep", "baseline"]

# bench/summary.json: the headline figures, a flat object with exactly these keys (issue 29); each names the step
# that measures it and where its figure sits in results.json. null where that step did not run in this bench.
SUMMARY = {
    "deploy_2web_1worker_s": ("deploy", ["deploy", "deploys", "deploy.yml v1.1.0 (uv)", "wall_s"]),
    "book_deploy_s": ("deploy", ["deploy", "deploys", "the book's fabfile deploy", "wall_s"]),
    "rollback_s": ("deploy", ["deploy", "deploys", "rollback.yml", "wall_s"]),
    "deploy_failed_requests": ("deploy", ["deploy", "zero_downtime", "deploy.yml v1.1.0 (uv)", "failed"]),
    "deploy_requests": ("deploy", ["deploy", "zero_downtime", "deploy.yml v1.1.0 (uv)", "sent"]),
    "deploy_web_hosts_1_s": ("scale", ["scale", "1", "wall_s"]),
    "deploy_web_hosts_2_s": ("scale", ["scale", "2", "wall_s"]),
    "deploy_web_hosts_4_s": ("scale", ["scale", "4", "wall_s"]),
    "deploy_web_hosts_8_s": ("scale", ["scale", "8", "wall_s"]),
    "second_run_5hosts_stock_s": ("converge", ["converge", "again", "defaults (linear, pipelining)", "wall_s"]),
    "second_run_5hosts_mitogen_s": ("converge", ["converge", "again", "Mitogen (mitogen_linear)", "wall_s"]),
    "second_run_ssh_stock_s": ("ssh", ["ssh", "again", "pipelining", "wall_s"]),
    "second_run_ssh_mitogen_s": ("ssh", ["ssh", "again", "Mitogen (mitogen_linear)", "wall_s"]),
    "first_run_5hosts_s": ("converge", ["converge", "fresh", "wall_s"]),
}


def summary(results, steps):
    """The headline figures of the steps that ran in this bench (null for the others, and for a figure a step
    could not make). A failed load count is the non-2xx answers and the refused connections together."""
    out = {}
    for key, (step, path) in SUMMARY.items():
        value = results if step in steps and step not in results.get("errors", {}) else None
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None and path[-1] == "failed" and step in steps:
            load = results.get(path[0], {}).get(path[1], {}).get(path[2])
            value = load["non_2xx"] + load["connection_errors"] if load else None
        out[key] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return out


def anonymous(text):
    """The report speaks of the project only: no paths of the machine it ran on (error output may carry some)."""
    return text.replace(str(REPO), "<repo>").replace(os.path.expanduser("~"), "~")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="leave the stack's (and the demo's) containers up "
                        "afterwards")
    parser.add_argument("--report-only", action="store_true", help="write report.md and the plots again from "
                        "bench/results.json, measuring nothing")
    parser.add_argument("--only", default=",".join(STEPS), help="comma-separated steps (the stack's estate "
                        "must exist for any step but ssh and converge)")
    args = parser.parse_args()
    steps = [] if args.report_only else args.only.split(",")
    BENCH.mkdir(exist_ok=True)
    results = {"errors": {}}
    previous = BENCH / "results.json"
    if previous.exists():
        # A partial run updates the steps it ran and keeps the others' figures (the report gives each step's time).
        results = json.loads(previous.read_text(encoding="utf-8"))
        results["errors"] = {step: error for step, error in results.get("errors", {}).items() if step not in steps}
    results["not_measured"] = NOT_MEASURED
    if steps or "machine" not in results:
        results["machine"] = machine()
    measured = results.setdefault("measured", {})
    started = time.monotonic()
    try:
        for name, step in (("ssh", step_ssh), ("converge", step_create), ("venv", step_venv_builds),
                           ("deploy", step_deploys),
                           ("serving", step_serving), ("hardening", step_hardening), ("sweep", step_sweep),
                           ("baseline", step_baseline)):
            if name not in steps:
                continue
            measured[name] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            results.setdefault("machines", {})[name] = results["machine"]
            try:
                if name == "converge":
                    step(results)
                    results["converge"] = {}
                    step_converge(results["converge"])
                else:
                    step(results)
            except Exception as error:  # noqa: BLE001 - a benchmark reports a broken step and goes on
                results["errors"][name] = str(error)
    finally:
        if not args.keep and not args.report_only:
            if set(steps) - {"ssh"}:
                run(["molecule", "destroy", "-s", "stack"], cwd=REPO, check=False, timeout=600)
            if "demo" in MADE:
                run(["molecule", "destroy", "-s", "demo"], cwd=REPO, check=False, timeout=600)
    if steps:
        results["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        results["bench_s"] = round(time.monotonic() - started, 1)
    images = []
    try:
        images = plots(results)
    except ImportError as error:
        results["errors"]["plots"] = f"matplotlib is missing: {error}"
    (BENCH / "results.json").write_text(anonymous(json.dumps(results, indent=1)), encoding="utf-8")
    (BENCH / "report.md").write_text(anonymous(report(results, images)), encoding="utf-8")
    if steps:
        (BENCH / "summary.json").write_text(json.dumps(summary(results, steps), indent=1) + "\n", encoding="utf-8")
    log(f"wrote bench/report.md and bench/results.json ({', '.join(steps) or 'report only'})")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
