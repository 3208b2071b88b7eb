"""roles/python_app/files/webstack-probe against a real HTTP server on a unix socket: which answers count as
healthy, for the switch (--wait) and the canary (--watch)."""

import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import ROOT

PROBE = ROOT / "roles" / "python_app" / "files" / "webstack-probe"


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def app(tmp_path):
    """An app on a unix socket whose / redirects to /login (no health route) and whose /healthz answers 200."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            status = 200 if self.path == "/healthz" else 302 if self.path == "/" else 404
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "/login")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def address_string(self):
            return "unix"

        def log_message(self, *args):
            pass

    path = tmp_path / "app.sock"
    server = Server(str(path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield path
    server.shutdown()
    server.server_close()


def probe(sock, *args):
    return subprocess.run([sys.executable, str(PROBE), f"--socket={sock}", *args], capture_output=True, text=True,
                          timeout=30, check=False)


def test_only_200_is_healthy_unless_the_inventory_names_other_statuses(app):
    assert probe(app, "--path=/healthz").returncode == 0
    refused = probe(app, "--path=/")
    assert refused.returncode == 1 and "/ answered 302" in refused.stdout, refused.stdout
    assert probe(app, "--path=/", "--status=200", "--status=302").returncode == 0
    # A listed status is not a pass for everything: a missing page still fails.
    assert probe(app, "--path=/nowhere", "--status=200", "--status=302").returncode == 1


def test_the_canary_s_watch_fails_at_the_first_answer_not_listed(app):
    assert probe(app, "--path=/", "--watch=1", "--status=302").returncode == 0
    watched = probe(app, "--path=/", "--watch=1")
    assert watched.returncode == 1 and "after 1 answers" in watched.stdout, watched.stdout
