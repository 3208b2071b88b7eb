"""log_tail, the logs playbook's module: real files in the formats of the estate's logs, read by the module run
as Ansible runs it."""

import datetime
import importlib.util
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

MODULE = ROOT / "plugins" / "modules" / "log_tail.py"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def run(**args):
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
                          capture_output=True, text=True, check=False, env=dict(os.environ, TZ="UTC"))
    return json.loads(proc.stdout)


def clf(when, path):
    return f'127.0.0.1 - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" 200 17 "-" "curl/7.88"'


def iso(when, message):
    return f"[{when:%Y-%m-%d %H:%M:%S},123: INFO/MainProcess] {message}"


def log(tmp_path, name, lines, end="\n"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + end)
    return path


@pytest.fixture
def line_time():
    spec = importlib.util.spec_from_file_location("log_tail", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.line_time


def test_the_last_lines_of_each_file_oldest_first(tmp_path):
    access = log(tmp_path, "access.log", [clf(NOW, f"/page/{n}") for n in range(10)])
    error = log(tmp_path, "error.log", ["2026/12/05 21:10:00 [error] 12#12: upstream timed out"], end="")
    os.utime(error, (0, 0))  # written first: listed first
    result = run(paths=[str(tmp_path / "*.log"), str(tmp_path / "nothing-*.gz")], lines=3)
    assert not result.get("failed") and not result["changed"], result
    assert [f["path"] for f in result["files"]] == [str(error), str(access)]
    assert result["files"][0] == {"path": str(error), "more": False,
                                  "lines": ["2026/12/05 21:10:00 [error] 12#12: upstream timed out"]}
    assert [line.split()[6] for line in result["files"][1]["lines"]] == ["/page/7", "/page/8", "/page/9"]
    assert result["files"][1]["more"] is True
    assert run(paths=[str(access)], lines=10)["files"][0]["more"] is False


def test_grep_keeps_the_matching_lines_only(tmp_path):
    access = log(tmp_path, "access.log", [clf(NOW, path) for path in ["/login", "/a", "/login?next=/b", "/c"] * 3])
    result = run(paths=[str(access)], lines=4, grep=r"/login\b")
    assert [line.split()[6] for line in result["files"][0]["lines"]] == ["/login", "/login?next=/b", "/login",
                                                                       "/login?next=/b"]
    assert result["files"][0]["more"] is True
    assert run(paths=[str(access)], grep="/nowhere")["files"][0]["lines"] == []


def test_since_keeps_what_was_written_since_with_its_tracebacks(tmp_path):
    old, new = NOW - datetime.timedelta(hours=2), NOW - datetime.timedelta(minutes=5)
    worker = log(tmp_path, "webapp-celery-default.log", [
        iso(old, "Task webapp.tasks.send failed"), "Traceback (most recent call last):", "  old frame",
        iso(new, "Task webapp.tasks.send raised"), "Traceback (most recent call last):", "  new frame",
        iso(NOW, "Task webapp.tasks.add succeeded")])
    result = run(paths=[str(worker)], since="15m", lines=100)
    assert result["files"][0]["lines"] == [iso(new, "Task webapp.tasks.send raised"),
                                           "Traceback (most recent call last):", "  new frame",
                                           iso(NOW, "Task webapp.tasks.add succeeded")], result
    assert result["files"][0]["more"] is False
    since = (NOW - datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    assert len(run(paths=[str(worker)], since=since, lines=100)["files"][0]["lines"]) == 7
    assert run(paths=[str(worker)], since=since, lines=2)["files"][0]["more"] is True
    # A time with its offset: the same instant as 15 minutes ago in UTC.
    plus_one = (NOW - datetime.timedelta(minutes=15)).astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert run(paths=[str(worker)], since=plus_one.isoformat())["files"][0]["lines"] == result["files"][0]["lines"]


def test_a_file_not_written_since_is_not_read(tmp_path):
    access = log(tmp_path, "access.log", ["a line without a time"])
    os.utime(access, (0, 0))
    assert run(paths=[str(access)], since="1h")["files"] == [{"path": str(access), "lines": [], "more": False}]
    os.utime(access, None)
    assert run(paths=[str(access)], since="1h")["files"][0]["lines"] == ["a line without a time"]


@pytest.mark.parametrize("line, expected", [
    ('10.0.0.9 - - [05/Dec/2026:21:10:00 +0100] "GET /?from=2020-01-01T00:00:00 HTTP/1.1" 200', "2026-12-05T20:10:00"),
    ("[2026-12-05 21:10:00 +0000] [812] [INFO] Booting worker with pid: 812", "2026-12-05T21:10:00"),
    ("[2026-12-05 21:10:00,123: WARNING/ForkPoolWorker-1] retrying", "2026-12-05T21:10:00"),
    ("2026-12-05 21:10:00,123 INFO spawned: 'webapp-blue' with pid 812", "2026-12-05T21:10:00"),
    ("2026-12-05T21:10:00Z something", "2026-12-05T21:10:00"),
    ("2026/12/05 21:10:00 [error] 12#12: *1 connect() failed", "2026-12-05T21:10:00"),
    ("[Sat Dec 05 21:10:00.123456 2026] [proxy:error] [pid 9] AH00957", "2026-12-05T21:10:00"),
    ("[pid: 9|app: 0|req: 1/1] 10.0.0.9 () {34 vars in 456 bytes} [Sat Dec  5 21:10:00 2026] GET /",
     "2026-12-05T21:10:00"),
    ("Traceback (most recent call last):", None),
    ("2026-13-45 99:10:00 not a time", None),
])
def test_each_log_format_gives_its_time(line_time, line, expected, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    found = line_time(line)
    assert (found.replace(tzinfo=None).isoformat() if found else None) == expected


@pytest.mark.parametrize("args, message", [
    ({"since": "yesterday"}, "since is 'yesterday': give a time ago"),
    ({"grep": "(unclosed"}, "grep is '(unclosed', not a regular expression"),
    ({"lines": 0}, "lines is 0: give a positive whole number"),
])
def test_bad_input_is_refused_with_what_to_give(tmp_path, args, message):
    result = run(paths=[str(log(tmp_path, "a.log", ["x"]))], **args)
    assert result.get("failed") and message in result["msg"], result
