"""The reference app and the versions the harness publishes: each behaves as its tag promises."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from webapp import create_app
from webapp.models import db
app = create_app("test")
with app.app_context():
    db.create_all()
client = app.test_client()
health = client.get("/healthz")
index = client.get("/")
print(json.dumps({"health": health.status_code, "body": health.get_json(),
                  "index": index.status_code, "page": index.get_data(as_text=True)}))
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    dest = tmp_path_factory.mktemp("git") / "webapp.git"
    subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "app_repo.py"), str(dest)], check=True)
    return dest


def checkout(repo, ref, tmp_path):
    work = tmp_path / ref
    subprocess.run(["git", "clone", "-q", "--branch", ref, str(repo), str(work)], check=True)
    return work


def app_tests(python, work):
    return subprocess.run(
        [python, "-m", "unittest", "discover"], cwd=work, capture_output=True, text=True, check=False
    )


def probe(python, work):
    import json

    env = dict(os.environ, PYTHONPATH=str(work))
    result = subprocess.run([python, "-c", PROBE], cwd=work, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_published_refs(repo):
    refs = subprocess.run(["git", "-C", str(repo), "tag"], capture_output=True, text=True, check=True).stdout.split()
    assert set(refs) == {
        "v1.0.0", "v1.1.0", "v2.0.0", "v1.2.0-broken-tests", "v1.3.0-broken-health", "v2.1.0-flaky-health",
        "v2.2.0-fails-canary",
    }


def test_commit_ids_are_reproducible(repo, tmp_path):
    again = tmp_path / "again.git"
    subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "app_repo.py"), str(again)], check=True)

    def ids(path):
        return subprocess.run(["git", "-C", str(path), "show-ref"], capture_output=True, text=True, check=True).stdout

    assert ids(repo) == ids(again)


@pytest.mark.parametrize("ref, version", [("v1.0.0", "1.0.0"), ("v1.1.0", "1.1.0"), ("v2.0.0", "2.0.0")])
def test_good_releases_pass_their_tests_and_show_their_version(app_python, repo, tmp_path, ref, version):
    work = checkout(repo, ref, tmp_path)
    assert app_tests(app_python, work).returncode == 0
    seen = probe(app_python, work)
    assert seen["health"] == 200 and seen["body"] == {"status": "ok", "version": version}
    assert seen["index"] == 200 and f'<span id="version">{version}</span>' in seen["page"]


def test_broken_tests_release_fails_its_tests(app_python, repo, tmp_path):
    result = app_tests(app_python, checkout(repo, "v1.2.0-broken-tests", tmp_path))
    assert result.returncode != 0
    assert "this release must not be deployed" in result.stderr


def test_broken_health_release_passes_tests_but_fails_health(app_python, repo, tmp_path):
    work = checkout(repo, "v1.3.0-broken-health", tmp_path)
    assert app_tests(app_python, work).returncode == 0
    seen = probe(app_python, work)
    assert seen["health"] == 503 and seen["body"]["version"] == "1.3.0"
    assert seen["index"] == 200


def health_answers(app_python, work, tmp_path, count):
    """The status of count /healthz requests in a row to one instance folder."""
    script = (
        "from webapp import create_app\n"
        "from webapp.models import db\n"
        "app = create_app('test')\n"
        "with app.app_context():\n"
        "    db.create_all()\n"
        "client = app.test_client()\n"
        f"print(*[client.get('/healthz').status_code for _ in range({count})])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(work), WEBAPP_INSTANCE_PATH=str(tmp_path / "instance"))
    result = subprocess.run([app_python, "-c", script], cwd=work, env=env, capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_flaky_health_release_is_healthy_once_then_failing(app_python, repo, tmp_path):
    work = checkout(repo, "v2.1.0-flaky-health", tmp_path)
    assert app_tests(app_python, work).returncode == 0
    assert health_answers(app_python, work, tmp_path, 2) == ["200", "503"]


def test_fails_canary_release_is_healthy_three_times_then_failing(app_python, repo, tmp_path):
    work = checkout(repo, "v2.2.0-fails-canary", tmp_path)
    assert app_tests(app_python, work).returncode == 0
    assert health_answers(app_python, work, tmp_path, 5) == ["200", "200", "200", "503", "503"]


def test_main_points_at_the_newest_good_release(repo):
    def commit(ref):
        return subprocess.run(
            ["git", "-C", str(repo), "rev-parse", f"{ref}^{{commit}}"], capture_output=True, text=True, check=True
        ).stdout

    assert commit("main") == commit("v2.0.0")
