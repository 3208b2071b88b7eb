"""app_status, the status playbook's module: an app root laid out as app_release leaves it, a live socket answering
over HTTP, and supervisorctl stood in for on PATH."""

import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import threading

import pytest
from conftest import ROOT

MODULE = ROOT / "plugins" / "modules" / "app_status.py"
PROBE = ROOT / "roles" / "python_app" / "files" / "webstack-probe"


class UnixHTTPServer(socketserver.UnixStreamServer):
    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


def health_server(path, status):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args):  # noqa: ARG002 - quiet
            pass

    server = UnixHTTPServer(str(path), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def release(root, name, version):
    folder = root / "releases" / name
    folder.mkdir(parents=True)
    (folder / ".webstack-release").write_text(json.dumps({"id": name, "version": version, "commit": "c0ffee"}))
    return folder


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "srv"
    (root / "bin").mkdir(parents=True)
    (root / "run").mkdir()
    shutil.copy(PROBE, root / "bin" / "webstack-probe")
    os.symlink(release(root, "20261204T100000Z-aaaaaaaaaa", "v1.0.0"), root / "previous")
    os.symlink(release(root, "20261205T100000Z-bbbbbbbbbb", "v1.1.0"), root / "current")
    return root


def run(root, tmp_path, **options):
    bin_dir = tmp_path / "stand-ins"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "supervisorctl").write_text(
        "#!/bin/sh\necho 'webapp-blue                      RUNNING   pid 812, uptime 0:10:02'\n"
        "echo 'webapp-green                     STOPPED   Dec 05 10:00 AM'\nexit 3\n")
    (bin_dir / "supervisorctl").chmod(0o755)
    args = {"root": str(root), **options}
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
                          capture_output=True, text=True, check=False,
                          env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}"))
    return json.loads(proc.stdout)


def test_a_web_host_tells_its_releases_health_programs_disk_and_lock(root, tmp_path):
    server = health_server(root / "run" / "live.sock", 200)
    try:
        result = run(root, tmp_path, health_path="/healthz")
    finally:
        server.shutdown()
    assert not result["changed"]
    assert (result["live"]["version"], result["previous"]["version"]) == ("v1.1.0", "v1.0.0"), result
    assert result["live"]["since"].endswith("Z") and result["live"]["commit"] == "c0ffee"
    assert result["health"] == {"ok": True, "answer": '/healthz answered 200: {"status": "ok"}'}
    assert result["programs"] == [{"name": "webapp-blue", "state": "RUNNING", "info": "pid 812, uptime 0:10:02"},
                                  {"name": "webapp-green", "state": "STOPPED", "info": "Dec 05 10:00 AM"}]
    assert result["lock"] == "" and result["disk"]["free_mb"] > 0
    assert result["lines"][0] == "live v1.1.0 (release 20261205T100000Z-bbbbbbbbbb, since " \
        f"{result['live']['since']})"
    assert result["lines"][2].startswith('health OK (/healthz answered 200: {"status": "ok"}); disk ')
    assert result["lines"][2].endswith("; deploy lock free")
    assert result["lines"][3] == "  webapp-blue RUNNING pid 812, uptime 0:10:02"
    assert (result["maintenance"], result["config"]) == (None, [])  # no maintenance_file: no front server here


def test_the_maintenance_page_and_the_names_config_yml_set_are_told_but_not_the_values(root, tmp_path):
    (root / "shared").mkdir()
    (root / "shared" / "maintenance").write_text("on\n")
    (root / "shared" / "env.local").write_text("FEATURE_X='s3cret-value'\nunset OLD_FLAG\n")
    result = run(root, tmp_path, maintenance_file=str(root / "shared" / "maintenance"))
    assert (result["maintenance"], result["config"]) == (True, ["FEATURE_X", "OLD_FLAG (unset)"])
    assert result["lines"][2].endswith("; deploy lock free; MAINTENANCE page on")
    assert result["lines"][3] == "set by config.yml: FEATURE_X, OLD_FLAG (unset)"
    assert "s3cret-value" not in json.dumps(result)
    elsewhere = run(root, tmp_path, maintenance_file=str(tmp_path / "flag"))  # an inventory's own flag path
    assert elsewhere["maintenance"] is False and elsewhere["lines"][2].endswith("; deploy lock free; maintenance off")


def test_a_failing_health_path_a_held_lock_and_a_worker(root, tmp_path):
    (root / "deploy.lock").mkdir()
    (root / "deploy.lock" / "owner").write_text("alice@laptop since 2026-12-05T10:00:00Z\n")
    server = health_server(root / "run" / "live.sock", 503)
    try:
        web = run(root, tmp_path, health_path="/healthz")
    finally:
        server.shutdown()
    assert web["health"] == {"ok": False, "answer": '/healthz answered 503: {"status": "ok"}'}
    assert web["lock"] == "alice@laptop since 2026-12-05T10:00:00Z"
    assert web["lines"][2].startswith("health FAILING") and "deploy lock held by alice@laptop" in web["lines"][2]
    worker = run(root, tmp_path)  # no health path: a worker serves nothing
    assert worker["health"]["ok"] is None and worker["lines"][2].startswith("health - (serves nothing here)")


def test_a_host_the_app_never_reached_is_named(tmp_path):
    result = run(tmp_path / "nowhere", tmp_path)
    assert result["failed"] and "the app was never deployed on this host" in result["msg"]
