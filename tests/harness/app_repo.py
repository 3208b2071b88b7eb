#!/usr/bin/env python3
"""Publish the reference app (tests/fixtures/webapp) as a bare git repository with several versions.

    tests/harness/app_repo.py DEST.git

Versions, as tags (and `main` pointing at the newest good one):
  v1.0.0, v1.1.0, v2.0.0  good releases; each shows its version on / and /healthz
  v1.2.0-broken-tests     the app's own tests fail (a deploy must refuse it before anything changes)
  v1.3.0-broken-health    tests pass but /healthz answers 503 (the health-gated switch must refuse it)
  v2.1.0-flaky-health     /healthz answers 200 once per instance folder, then 503: it passes the check on its
                          own socket and fails the one after the switch (the switch must be undone)
  v2.2.0-fails-canary     /healthz answers 200 three times per instance folder, then 503: it passes both checks
                          of the switch and fails the canary's watch after it (the canary must be switched back)

Commit dates are fixed, so the same fixture always gives the same commit ids.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "webapp"
HEALTH_ANCHOR = "    healthy = _database_ok()\n"


def git(work, *args):
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="pyops test",
        GIT_AUTHOR_EMAIL="test@pyops.invalid",
        GIT_COMMITTER_NAME="pyops test",
        GIT_COMMITTER_EMAIL="test@pyops.invalid",
        GIT_AUTHOR_DATE="2026-01-01T00:00:00+00:00",
        GIT_COMMITTER_DATE="2026-01-01T00:00:00+00:00",
    )
    subprocess.run(["git", "-C", str(work), *args], check=True, env=env, stdout=subprocess.DEVNULL)


def set_version(work, version):
    init = work / "webapp" / "__init__.py"
    text = init.read_text()
    old = next(line for line in text.splitlines() if line.startswith("__version__ = "))
    init.write_text(text.replace(old, f'__version__ = "{version}"'))


def release(work, version, tag, message):
    set_version(work, version)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    git(work, "tag", tag)


def main(dest):
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "webapp"
        shutil.copytree(FIXTURE, work, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "instance"))
        git(work, "init", "-q", "-b", "main")
        release(work, "1.0.0", "v1.0.0", "webapp 1.0.0")
        release(work, "1.1.0", "v1.1.0", "webapp 1.1.0")

        (work / "tests" / "test_broken.py").write_text(
            "import unittest\n\n\nclass Broken(unittest.TestCase):\n"
            "    def test_fails(self):\n        self.fail('this release must not be deployed')\n"
        )
        release(work, "1.2.0", "v1.2.0-broken-tests", "webapp 1.2.0: a release whose tests fail")
        git(work, "rm", "-q", "tests/test_broken.py")

        views = work / "webapp" / "views.py"
        good_views = views.read_text()
        if HEALTH_ANCHOR not in good_views:
            sys.exit(f"app_repo: {views} no longer contains the health check line to break")
        views.write_text(good_views.replace(HEALTH_ANCHOR, "    healthy = False  # a broken release\n"))
        # The app's own tests must still pass, so only the health gate can catch this release.
        tests = work / "tests" / "test_app.py"
        tests.write_text(tests.read_text().replace("def test_healthz_", "def skip_healthz_"))
        release(work, "1.3.0", "v1.3.0-broken-health", "webapp 1.3.0: a release whose health check fails")

        git(work, "checkout", "-q", "v1.1.0", "--", ".")
        git(work, "clean", "-qfd")
        release(work, "2.0.0", "v2.0.0", "webapp 2.0.0")

        flaky = (
            "    seen = os.path.join(current_app.instance_path, 'flaky-health-seen')\n"
            "    first = not os.path.exists(seen)\n"
            "    open(seen, 'a').close()\n"
            "    healthy = _database_ok() and first  # healthy once, then failing\n"
        )
        views.write_text("import os\n" + good_views.replace(HEALTH_ANCHOR, flaky))
        tests.write_text(tests.read_text().replace("def test_healthz_", "def skip_healthz_"))
        release(work, "2.1.0", "v2.1.0-flaky-health", "webapp 2.1.0: healthy once, then failing")

        later = (
            "    seen = os.path.join(current_app.instance_path, 'fails-canary-seen')\n"
            "    with open(seen, 'a') as mark:\n"
            "        mark.write('.')\n"
            "    healthy = _database_ok() and os.path.getsize(seen) <= 3  # three times healthy, then failing\n"
        )
        views.write_text("import os\n" + good_views.replace(HEALTH_ANCHOR, later))
        release(work, "2.2.0", "v2.2.0-fails-canary", "webapp 2.2.0: healthy three times, then failing")
        git(work, "reset", "-q", "--hard", "v2.0.0")  # main stays on the newest good release

        if dest.exists():
            shutil.rmtree(dest)
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(dest)], check=True)
        git(dest, "update-server-info")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
