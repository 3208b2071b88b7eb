"""plugins/modules/supervisor_programs.py run as ansible runs it, against a stand-in supervisorctl.

The stand-in keeps each program's state in a JSON file and logs every call, so a test sees which programs were
written, updated, restarted and started. The background and stack scenarios run the real supervisor.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

MODULE = ROOT / "plugins" / "modules" / "supervisor_programs.py"

SUPERVISORCTL = r'''#!/usr/bin/env python3
import fcntl, json, os, sys, time
state_file, conf = os.environ["FAKE_STATE"], os.environ["FAKE_CONF"]
command, names = sys.argv[1], sys.argv[2:]
if command == "restart" and os.environ.get("FAKE_STOP_WAIT"):
    # A stop that waits (a worker finishing its task), marked where it starts and ends, outside the lock below.
    with open(state_file + ".stops", "a") as stops:
        stops.write(f"begin {' '.join(names)}\n")
    time.sleep(float(os.environ["FAKE_STOP_WAIT"]))
    with open(state_file + ".stops", "a") as stops:
        stops.write(f"end {' '.join(names)}\n")
# One call at a time reads and writes the state, as supervisord serialises its own.
lock = open(state_file + ".lock", "a")
fcntl.flock(lock, fcntl.LOCK_EX)
state = json.load(open(state_file)) if os.path.exists(state_file) else {}
with open(state_file + ".calls", "a") as calls:
    calls.write(" ".join(sys.argv[1:]) + "\n")
def spawn(name):
    text = open(f"{conf}/{name}.conf").read()
    state[name] = "FATAL" if "fails" in text else "RUNNING"
    return state[name] == "RUNNING"
rc = 0
if command == "status":
    for name in names:
        print(f"{name} {state.get(name, 'UNKNOWN')} pid 1, uptime 0:00:01")
    rc = 4 if any(name not in state for name in names) else 3 if any(state[n] != "RUNNING" for n in names) else 0
elif command == "update":
    for name in names:
        if os.path.exists(f"{conf}/{name}.conf"):
            spawn(name)
        else:
            state.pop(name, None)
elif command in ("restart", "start"):
    for name in names:
        if command == "start" and state.get(name) == "RUNNING":
            print(f"{name}: ERROR (already started)")
            rc = 7
        elif not spawn(name):
            print(f"{name}: ERROR (spawn error)")
            rc = 7
json.dump(state, open(state_file, "w"))
sys.exit(rc)
'''


@pytest.fixture
def host(tmp_path):
    """A conf dir, a record dir, a log dir and a supervisorctl on PATH."""
    for folder in ("conf", "run", "log", "bin"):
        (tmp_path / folder).mkdir()
    fake = tmp_path / "bin" / "supervisorctl"
    fake.write_text(SUPERVISORCTL)
    fake.chmod(0o755)
    return tmp_path


def program(name, extra=""):
    return f"[program:{name}]\ncommand=/bin/true {extra}\n"


def run(host, programs, started_with="r1 env1", check=False, stop_wait="", **options):
    args = {"programs": programs, "conf_dir": str(host / "conf"), "record_dir": str(host / "run"),
            "log_dir": str(host / "log"), "start_timeout": 2, "_ansible_check_mode": check, "_ansible_diff": True,
            **({"started_with": started_with} if started_with is not None else {}), **options}
    env = {**os.environ, "PATH": f"{host / 'bin'}:{os.environ['PATH']}", "FAKE_STATE": str(host / "state.json"),
           "FAKE_CONF": str(host / "conf"), "FAKE_STOP_WAIT": stop_wait}
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
                          capture_output=True, text=True, check=False, env=env)
    return json.loads(proc.stdout)


def calls(host):
    """The supervisorctl calls made since the last look, status reads left out."""
    path = host / "state.json.calls"
    lines = path.read_text().splitlines() if path.exists() else []
    path.write_text("")
    return [line for line in lines if not line.startswith("status")]


def states(host):
    return json.loads((host / "state.json").read_text())


def test_programs_are_written_started_and_recorded_then_a_second_call_changes_nothing(host):
    programs = {"app-celery-a": program("app-celery-a"), "app-celery-b": program("app-celery-b")}
    first = run(host, programs)
    assert first["changed"] and sorted(first["written"]) == ["app-celery-a", "app-celery-b"], first
    assert (host / "conf" / "app-celery-a.conf").read_text() == programs["app-celery-a"]
    assert calls(host) == ["update app-celery-a app-celery-b"]
    assert (host / "run" / "app-celery-b.release").read_text() == "r1 env1\n"
    assert states(host) == {"app-celery-a": "RUNNING", "app-celery-b": "RUNNING"}
    again = run(host, programs)
    assert not again["changed"] and again["written"] == again["restarted"] == again["started"] == [], again
    assert calls(host) == []


def test_a_new_release_restarts_running_programs_but_not_one_whose_file_just_changed(host):
    run(host, {"w-a": program("w-a"), "w-b": program("w-b")})
    calls(host)
    result = run(host, {"w-a": program("w-a", "--concurrency 4"), "w-b": program("w-b")}, started_with="r2 env1")
    assert result["changed"] and result["written"] == ["w-a"] and result["restarted"] == ["w-b"], result
    assert calls(host) == ["update w-a", "restart w-b"]
    assert {(host / "run" / f"{name}.release").read_text() for name in ("w-a", "w-b")} == {"r2 env1\n"}


def test_programs_restart_side_by_side_so_one_long_stop_does_not_wait_for_another(host):
    run(host, {name: program(name) for name in ("w-a", "w-b", "w-beat")})
    calls(host)
    result = run(host, {name: program(name) for name in ("w-a", "w-b", "w-beat")}, started_with="r2 env1",
                 stop_wait="0.5")
    assert sorted(result["restarted"]) == ["w-a", "w-b", "w-beat"], result
    marks = [line.split()[0] for line in (host / "state.json.stops").read_text().splitlines()]
    # Each restart began before any ended: none waited for another's stop.
    assert marks == ["begin"] * 3 + ["end"] * 3, marks
    assert sorted(calls(host)) == ["restart w-a", "restart w-b", "restart w-beat"]
    assert states(host) == {"w-a": "RUNNING", "w-b": "RUNNING", "w-beat": "RUNNING"}


def test_what_programs_start_with_is_read_on_the_host_from_a_link_and_a_file(host):
    (host / "current").symlink_to("releases/r1")
    (host / "env").write_text("BROKER_URL=amqp://one\n")
    read = {"started_with": None, "started_from": [str(host / "current"), str(host / "env")]}
    first = run(host, {"w-a": program("w-a")}, **read)
    sha1 = hashlib.sha1(b"BROKER_URL=amqp://one\n").hexdigest()
    assert first["started_with"] == f"releases/r1 {sha1}", first
    assert (host / "run" / "w-a.release").read_text() == f"releases/r1 {sha1}\n"
    calls(host)
    assert not run(host, {"w-a": program("w-a")}, **read)["changed"]
    (host / "env").write_text("BROKER_URL=amqp://two\n")
    assert run(host, {"w-a": program("w-a")}, **read)["restarted"] == ["w-a"]
    (host / "current").unlink()
    (host / "current").symlink_to("releases/r2")
    assert run(host, {"w-a": program("w-a")}, **read)["restarted"] == ["w-a"]
    assert calls(host) == ["restart w-a", "restart w-a"]


def test_a_required_path_that_is_missing_fails_with_its_message_before_anything_changes(host):
    celery = host / "current" / ".venv" / "bin" / "celery"
    result = run(host, {"w-a": program("w-a")}, requires=[{"path": str(celery), "msg": "run the python_app role first."}])
    assert result.get("failed"), result
    assert result["msg"] == f"{celery} does not exist: run the python_app role first."
    assert list((host / "conf").iterdir()) == [] and calls(host) == []


def test_a_program_stopped_by_hand_is_started_and_nothing_else_moves(host):
    run(host, {"w-a": program("w-a"), "w-b": program("w-b")})
    calls(host)
    (host / "state.json").write_text(json.dumps({"w-a": "STOPPED", "w-b": "RUNNING"}))
    result = run(host, {"w-a": program("w-a"), "w-b": program("w-b")})
    assert result["changed"] and result["started"] == ["w-a"] and result["restarted"] == [], result
    assert calls(host) == ["start w-a"]


def test_an_absent_program_is_removed_and_forgotten_by_supervisor(host):
    run(host, {"w-a": program("w-a"), "w-beat": program("w-beat")})
    calls(host)
    result = run(host, {"w-a": program("w-a")}, absent=["w-beat"])
    assert result["changed"] and result["removed"] == ["w-beat"], result
    assert not (host / "conf" / "w-beat.conf").exists()
    assert calls(host) == ["update w-beat"] and "w-beat" not in states(host)
    assert not run(host, {"w-a": program("w-a")}, absent=["w-beat"])["changed"]


def test_check_mode_reports_what_it_would_do_and_changes_nothing(host):
    run(host, {"w-a": program("w-a")})
    calls(host)
    result = run(host, {"w-a": program("w-a"), "w-b": program("w-b")}, started_with="r2 env1", check=True)
    assert result["changed"] and result["written"] == ["w-b"] and result["restarted"] == ["w-a"], result
    assert "w-b" in result["diff"]["after"] and not (host / "conf" / "w-b.conf").exists()
    assert calls(host) == [] and (host / "run" / "w-a.release").read_text() == "r1 env1\n"


def test_a_program_that_will_not_run_fails_the_call_with_its_log_and_is_not_recorded(host):
    (host / "log" / "w-a.log").write_text("ImportError: No module named 'celery_runner'\n")
    result = run(host, {"w-a": program("w-a", "fails")})
    assert result.get("failed") and "w-a" in result["msg"] and "celery_runner" in result["msg"], result
    assert result["states"] == {"w-a": "FATAL"}
    assert not (host / "run" / "w-a.release").exists()


@pytest.mark.parametrize("programs, message", [
    ({"bad name": "[program:bad name]\n"}, "letters, digits"),
    ({"w-a": program("w-b")}, "no [program:w-a] section"),
])
def test_bad_input_is_refused_before_anything_changes(host, programs, message):
    result = run(host, programs)
    assert result.get("failed") and message in result["msg"], result
    assert list((host / "conf").iterdir()) == [] and calls(host) == []
