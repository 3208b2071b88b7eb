"""plugins/modules/app_release.py: the release engine run as ansible runs it, on a git repository made here.

These runs are of a host that only runs workers (serve: false): the app server's colours need supervisor, and
the python_app, background and stack scenarios test them in containers. Builds use `python -m venv`, and uv
(from the dev requirements) where a uv.lock is synced.
"""

import http.server
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

MODULE = ROOT / "plugins" / "modules" / "app_release.py"
SPEC = importlib.util.spec_from_file_location("app_release", MODULE)
app_release = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(app_release)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="builds and chowns as root, as the role runs it")


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """An app repository with tags v1 and v2 (v2-broken's tests fail)."""
    path = tmp_path / "app"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    for tag, test in (("v1", "true"), ("v2", "true"), ("v2-broken", "echo this release must not ship; false")):
        (path / "requirements.txt").write_text("")
        (path / "VERSION").write_text(tag + "\n")
        (path / "check.sh").write_text(test + "\n")
        git(path, "add", "-A")
        git(path, "commit", "--quiet", "-m", tag)
        git(path, "tag", tag)
    return path


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "srv"
    for folder in ("releases", "shared/instance", "run", "bin"):
        (path / folder).mkdir(parents=True)
    (path / "shared" / "env").write_text("GREETING=hello\n")
    return path


def run(root, repo, state, check=False, **options):
    args = {"state": state, "name": "webapp", "root": str(root), "repo": str(repo), "version": "v1",
            "user": "root", "group": "root", "run_user": "root", "serve": False, "packages": [],
            "env_file": str(root / "shared" / "env"), "shared_paths": ["instance"], "test_command": "sh check.sh",
            "deployer": "tester@here", "_ansible_check_mode": check, "_ansible_diff": True, **options}
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
                          capture_output=True, text=True, check=False, cwd=root.parent)
    return json.loads(proc.stdout)


def history(root):
    return [line.split("\t") for line in (root / "history.tsv").read_text().splitlines() if not line.startswith("#")]


def live(root):
    return os.readlink(root / "current").rsplit("/", 1)[1]


def test_a_release_is_built_tested_and_switched_to_then_nothing_changes(root, repo):
    built = run(root, repo, "built")
    assert built["built"] and built["changed"], built
    release = root / "releases" / built["release"]
    assert built["release"].endswith("-" + git(repo, "rev-parse", "v1")[:10])
    assert (release / "VERSION").read_text() == "v1\n" and (release / ".venv" / "bin" / "python").exists()
    assert os.readlink(release / "instance") == str(root / "shared" / "instance")
    assert json.loads((release / ".webstack-release").read_text())["commit"] == git(repo, "rev-parse", "v1")
    assert (release / ".webstack-status").read_text() == "built\n"
    assert not (root / "current").exists()  # nothing live yet

    switched = run(root, repo, "live")
    assert switched["switched"] and switched["result"] == "deployed", switched
    assert live(root) == built["release"] and (release / ".webstack-status").read_text() == "ready\n"
    assert [row[5] for row in history(root)] == ["built", "deployed"]
    assert not (root / "deploy.lock").exists()

    again = run(root, repo, "built"), run(root, repo, "live")
    assert [(r["changed"], r["built"], r["switched"]) for r in again] == [(False, False, False)] * 2, again


def test_failing_tests_refuse_the_release_and_leave_the_live_one(root, repo):
    run(root, repo, "built")
    run(root, repo, "live")
    before = live(root)
    failed = run(root, repo, "built", version="v2-broken")
    assert failed["failed"]
    assert failed["msg"].startswith('Deploy of v2-broken failed at "Run the app\'s tests')
    assert "nothing live changed" in failed["msg"] and "this release must not ship" in failed["msg"]
    assert live(root) == before
    broken = root / "releases" / failed["release"] if failed["release"] else None
    statuses = {p.name: (p / ".webstack-status").read_text() for p in (root / "releases").iterdir()}
    assert [s for name, s in statuses.items() if name != before] == [
        "failed: Run the app's tests in the new release (nothing live has changed yet)\n"], (statuses, broken)
    assert history(root)[-1][2] == "v2-broken" and history(root)[-1][5].startswith("failed: Run the app's tests")
    assert not (root / "deploy.lock").exists()
    # A failed release is never switched to: the next switch to that version finds nothing built.
    refused = run(root, repo, "live", version="v2-broken")
    assert refused["failed"] and "no built release of v2-broken" in refused["msg"] and live(root) == before


def test_a_mistyped_version_is_named_with_the_nearest_tags_and_nothing_live_changes(root, repo):
    run(root, repo, "built")
    run(root, repo, "live")
    before = live(root)
    failed = run(root, repo, "built", version="v2-brokn")
    assert failed["failed"]
    assert failed["msg"].startswith('Deploy of v2-brokn failed at "Resolve the version to a commit"'), failed["msg"]
    assert "v2-brokn is no tag, branch or commit of the app repository" in failed["msg"]
    assert "the nearest: v2-broken" in failed["msg"] and "nothing live changed" in failed["msg"]
    assert live(root) == before and not (root / "deploy.lock").exists()
    assert history(root)[-1][2] == "v2-brokn" and history(root)[-1][5] == "failed: Resolve the version to a commit"
    assert [p.name for p in (root / "releases").iterdir()] == [before]  # nothing half-made is left


def test_a_held_lock_stops_the_deploy_names_its_owner_and_stays(root, repo):
    (root / "deploy.lock").mkdir()
    (root / "deploy.lock" / "owner").write_text("alice@laptop since 2026-11-21T08:00:00Z\n")
    result = run(root, repo, "built")
    assert result["failed"] and "alice@laptop" in result["msg"] and "stale" in result["msg"]
    assert (root / "deploy.lock" / "owner").exists()
    assert list((root / "releases").iterdir()) == []


def test_check_mode_says_what_would_change_and_changes_nothing(root, repo):
    result = run(root, repo, "built", check=True)
    assert result["changed"] and not result["built"]
    assert not (root / "repo.git").exists() and list((root / "releases").iterdir()) == []
    run(root, repo, "built")
    result = run(root, repo, "live", check=True)
    assert result["changed"] and not result["switched"] and not (root / "current").exists()
    assert result["diff"]["after"] == f"live: {result['release']}\n"


def test_release_commands_run_with_the_environment_only_where_told(root, repo):
    command = ["echo \"$GREETING\" > instance/greeting"]
    run(root, repo, "built", commands=command, run_commands=False)
    assert not (root / "shared" / "instance" / "greeting").exists()
    run(root, repo, "built", version="v2", commands=command)
    assert (root / "shared" / "instance" / "greeting").read_text() == "hello\n"


def test_setup_commands_run_once_before_the_release_commands_of_the_first_release_only(root, repo):
    log = root / "shared" / "instance" / "order"
    setup, commands = ['echo "setup $GREETING" >> instance/order'], ["echo release >> instance/order"]
    assert not run(root, repo, "built", setup_commands=setup, commands=commands)["setup_ran"]  # run_setup unset
    assert log.read_text() == "release\n"
    log.unlink()
    (root / "releases").rename(root / "old-releases")  # as a host that never had a release
    (root / "releases").mkdir()
    first = run(root, repo, "built", setup_commands=setup, commands=commands, run_setup=True)
    assert first["setup_ran"] and log.read_text() == "setup hello\nrelease\n", first
    assert (root / "shared" / ".webstack-setup").read_text().startswith(first["release"] + " ")
    run(root, repo, "live")
    again = run(root, repo, "built", version="v2", setup_commands=setup, commands=commands, run_setup=True)
    assert again["built"] and not again["setup_ran"] and log.read_text() == "setup hello\nrelease\nrelease\n"


def test_a_failing_setup_command_fails_the_release_and_runs_again_next_time(root, repo):
    failed = run(root, repo, "built", setup_commands=["echo cannot reach the database; false"], run_setup=True)
    assert failed["failed"] and 'failed at "Run the setup commands' in failed["msg"], failed
    assert "cannot reach the database" in failed["msg"] and not (root / "shared" / ".webstack-setup").exists()
    fixed = run(root, repo, "built", setup_commands=["true"], run_setup=True)
    assert fixed["built"] and fixed["setup_ran"] and (root / "shared" / ".webstack-setup").exists()


def test_held_commands_wait_for_a_second_call_and_a_held_release_is_never_switched_to(root, repo):
    # What comes between the two calls (deploy.yml's backup) sees the release built and tested, its commands not run.
    log = root / "shared" / "instance" / "order"
    commands = ["echo release >> instance/order"]
    held = run(root, repo, "built", commands=commands, hold_commands=True)
    assert held["built"] and held["commands_held"] and held["result"] == "", held
    release = root / "releases" / held["release"]
    assert app_release.release_status(release) == "held" and not log.exists()
    assert not (root / "history.tsv").exists() or held["release"] not in (root / "history.tsv").read_text()
    refused = run(root, repo, "live")
    assert refused.get("failed") or not refused["switched"], refused
    assert not (root / "current").exists()
    done = run(root, repo, "built", commands=commands, commands_of=held["release"])
    assert not done.get("failed") and done["release"] == held["release"] and done["result"] == "built", done
    assert log.read_text() == "release\n" and app_release.release_status(release) == "built"
    assert history(root)[-1][0] == held["release"] and history(root)[-1][5] == "built"
    assert run(root, repo, "live")["switched"] and live(root) == held["release"]
    # Once built, it is held no more: running its commands again is refused, and they did not run twice.
    again = run(root, repo, "built", commands=commands, commands_of=held["release"])
    assert again["failed"] and "is not waiting for its commands" in again["msg"] and log.read_text() == "release\n"


def test_a_host_that_runs_no_commands_builds_as_before_when_asked_to_hold(root, repo):
    built = run(root, repo, "built", commands=["true"], run_commands=False, hold_commands=True)
    assert built["built"] and not built["commands_held"] and built["result"] == "built", built
    assert app_release.release_status(root / "releases" / built["release"]) == "built"


def test_held_commands_that_fail_mark_the_release_failed_and_nothing_live_changes(root, repo):
    run(root, repo, "built")
    first = run(root, repo, "live")["release"]
    held = run(root, repo, "built", version="v2", commands=["echo migration broke; false"], hold_commands=True)
    failed = run(root, repo, "built", version="v2", commands=["echo migration broke; false"],
                 commands_of=held["release"])
    assert failed["failed"] and 'failed at "Run the release commands' in failed["msg"], failed
    assert "migration broke" in failed["msg"] and live(root) == first
    assert app_release.release_status(root / "releases" / held["release"]).startswith("failed")
    assert history(root)[-1][0] == held["release"] and history(root)[-1][5].startswith("failed: Run the release")


def test_a_shared_path_inside_the_virtualenv_is_linked_as_an_installed_flask_app_needs(root, repo):
    # Flask keeps an installed package's instance folder in <prefix>/var/<package>-instance: with that path shared,
    # its data survives a release, as the README says.
    built = run(root, repo, "built", shared_paths=["instance", ".venv/var/webapp-instance"])
    link = root / "releases" / built["release"] / ".venv" / "var" / "webapp-instance"
    assert os.readlink(link) == str(root / "shared" / ".venv" / "var" / "webapp-instance"), built
    assert link.resolve().is_dir()


def test_going_back_to_a_release_that_was_live_switches_without_building(root, repo):
    first = run(root, repo, "built")["release"]
    run(root, repo, "live")
    second = run(root, repo, "built", version="v2")["release"]
    run(root, repo, "live", version="v2")
    back = run(root, repo, "live", version="v1")
    assert back["result"] == "switched" and not back["built"] and live(root) == first
    assert os.readlink(root / "previous") == f"releases/{second}"


def make_releases(root, statuses):
    for name, status in statuses.items():
        (root / "releases" / name).mkdir()
        if status:
            (root / "releases" / name / ".webstack-status").write_text(status + "\n")


def test_pruning_keeps_the_newest_good_releases_live_and_previous(root):
    make_releases(root, {"01": "ready", "02": "ready", "03": "failed: x", "04": "ready", "05": "ready",
                         "06": "", "07": "building"})
    os.symlink("releases/01", root / "previous")
    os.symlink("releases/05", root / "current")
    pruned = app_release.releases_to_prune(root, 2)
    # Kept: 07 (the newest folder), 05 and 04 (the two newest good), 01 (previous). Failed ones never count.
    assert pruned == [("06", "unfinished"), ("03", "failed"), ("02", "ready")]


def test_a_release_is_found_again_only_when_built_or_ready_with_the_same_packages(root):
    make_releases(root, {"01": "ready", "02": "built", "03": "failed: health"})
    for name in ("01", "02", "03"):
        (root / "releases" / name / ".webstack-release").write_text(json.dumps({"commit": "c", "packages": ["p"]}))
    assert app_release.find_release(root, "c", ["p"]) == "02"
    assert app_release.find_release(root, "c", ["q"]) == ""
    assert app_release.find_release(root, "d", ["p"]) == ""


def test_the_program_template_is_filled_in_and_keeps_the_shell_words():
    text = app_release.render_program(
        "[program:webapp-${slot}]\ncommand=/bin/sh -c 'exec \"$0\" \"$@\"' ${release}/.venv/bin/uwsgi "
        "--ini ${config}\nautostart=${autostart}\n; fingerprint: ${fingerprint}\n",
        slot="green", release="/srv/r", config="/etc/c.ini", autostart="true", fingerprint="r-1-2", socket="s")
    assert text == ("[program:webapp-green]\ncommand=/bin/sh -c 'exec \"$0\" \"$@\"' /srv/r/.venv/bin/uwsgi "
                    "--ini /etc/c.ini\nautostart=true\n; fingerprint: r-1-2\n")
    assert app_release.fingerprint_of("/nonexistent") == ""


def test_switching_away_from_a_live_release_that_failed_marks_it_and_moves_previous_off_it(root, repo):
    first = run(root, repo, "built")["release"]
    run(root, repo, "live")
    second = run(root, repo, "built", version="v2")["release"]
    run(root, repo, "live", version="v2")
    third = run(root, repo, "built", version="v2-broken", test_command="")["release"]
    run(root, repo, "live", version="v2-broken")
    assert os.readlink(root / "previous") == f"releases/{second}"
    # The third failed after its switch (a canary's watch): going back to the second marks it failed, and previous
    # is the good release before them, not the failed one.
    back = run(root, repo, "live", version="v2", live_failed="canary's watch of 30 s")
    assert back["result"] == "switched" and live(root) == second, back
    assert (root / "releases" / third / ".webstack-status").read_text() == "failed: canary's watch of 30 s\n"
    assert os.readlink(root / "previous") == f"releases/{first}"
    assert history(root)[-2][0] == third and history(root)[-2][1:3] == [git(repo, "rev-parse", "v2-broken"),
                                                                          "v2-broken"]
    assert history(root)[-2][5] == "failed: canary's watch of 30 s"
    # A failed release is never switched to again.
    assert run(root, repo, "live", version="v2-broken")["failed"]


def test_an_unexpected_error_fails_the_step_by_name_and_gives_the_lock_back(root, repo):
    (root / "releases").rmdir()
    (root / "releases").write_text("not a folder\n")
    result = run(root, repo, "built")
    assert result["failed"] and result["msg"].startswith('Deploy of v1 failed at "Lay out the app root"')
    assert "NotADirectoryError" in result["msg"] and "is there but is not a folder" in result["msg"]
    assert "nothing live changed" in result["msg"] and not (root / "deploy.lock").exists()
    assert history(root)[-1][5] == "failed: Lay out the app root"


def test_the_layout_is_made_with_owners_and_modes_then_left_alone_and_the_secrets_stay_out(tmp_path, repo):
    root = tmp_path / "fresh"
    layout = {"config_dir": str(tmp_path / "etc" / "webapp"), "helpers": {"webstack-history": "#!/bin/sh\n"},
              "env_content": "SECRET_KEY='s3cr3t-value'\n", "env_file": str(root / "shared" / "env")}
    first = run(root, repo, "built", **layout)
    assert first["built"] and str(root / "shared" / "env") in first["laid_out"], first
    modes = {path: oct(os.stat(root / path).st_mode & 0o7777) for path in
             ("releases", "shared", "run", "bin", "shared/instance", "shared/env", "bin/webstack-history")}
    assert modes == {"releases": "0o755", "shared": "0o750", "run": "0o750", "bin": "0o755",
                     "shared/instance": "0o770", "shared/env": "0o640", "bin/webstack-history": "0o755"}
    assert (root / "shared" / "env").read_text() == "SECRET_KEY='s3cr3t-value'\n"
    assert (tmp_path / "etc" / "webapp").is_dir() and history(root)[-1][5] == "built"
    assert run(root, repo, "built", **layout)["laid_out"] == []
    os.chmod(root / "shared", 0o755)
    changed = dict(layout, env_content="SECRET_KEY='an0ther-value'\n")
    check = run(root, repo, "built", check=True, **changed)
    assert check["changed"] and sorted(check["laid_out"]) == [str(root / "shared"), str(root / "shared" / "env")]
    assert "s3cr3t" in (root / "shared" / "env").read_text()
    proc = subprocess.run([sys.executable, str(MODULE)], capture_output=True, text=True, check=False,
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": {
                              "state": "built", "name": "webapp", "root": str(root), "repo": str(repo),
                              "version": "v1", "user": "root", "group": "root", "run_user": "root", "serve": False,
                              "_ansible_diff": True, **changed}}))
    assert "an0ther-value" in (root / "shared" / "env").read_text() and "an0ther" not in proc.stdout, proc.stdout
    assert oct(os.stat(root / "shared").st_mode & 0o777) == "0o750"


def test_the_app_s_files_are_written_under_shared_secret_ones_private_and_kept_out_of_the_output(root, repo):
    files = [{"path": "instance/config.py", "content": "SECRET_KEY = 'fi1e-s3cret'\n"},
             {"path": "conf/site/public.ini", "content": "[site]\nname = shop\n", "secret": False}]
    proc = subprocess.run([sys.executable, str(MODULE)], capture_output=True, text=True, check=False, cwd=root.parent,
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": {
                              "state": "built", "name": "webapp", "root": str(root), "repo": str(repo),
                              "version": "v1", "user": "root", "group": "root", "run_user": "root", "serve": False,
                              "shared_paths": ["instance"], "files": files}}))
    built = json.loads(proc.stdout)
    assert built["built"] and "fi1e-s3cret" not in proc.stdout, proc.stdout
    config, public = root / "shared" / "instance" / "config.py", root / "shared" / "conf" / "site" / "public.ini"
    assert config.read_text() == "SECRET_KEY = 'fi1e-s3cret'\n" and oct(config.stat().st_mode & 0o777) == "0o600"
    assert public.read_text() == "[site]\nname = shop\n" and oct(public.stat().st_mode & 0o777) == "0o644"
    assert oct((root / "shared" / "conf" / "site").stat().st_mode & 0o777) == "0o770"
    # The release links instance/ to shared/: the app finds its config where Flask looks, in its instance folder.
    assert (root / "releases" / built["release"] / "instance" / "config.py").read_text() == config.read_text()
    assert run(root, repo, "built", shared_paths=["instance"], files=files)["laid_out"] == []
    for bad in ("../escape.py", "/etc/passwd", "."):
        refused = run(root, repo, "built", files=[{"path": bad, "content": "x"}])
        assert refused["failed"] and "is not a path under shared/" in refused["msg"], refused
    assert not (root / "escape.py").exists() and not (root.parent / "escape.py").exists()


def test_a_named_release_is_switched_to_whatever_version_is_given(root, repo):
    first = run(root, repo, "built")["release"]
    run(root, repo, "live")
    run(root, repo, "built", version="v2")
    run(root, repo, "live", version="v2")
    # As deploy.yml's canary goes back while the command line still says -e python_app_version=v2.
    back = run(root, repo, "live", version="v2", release=first)
    assert back["switched"] and live(root) == first and back["commit"] == git(repo, "rev-parse", "v1"), back
    assert history(root)[-1][2] == "v1"
    refused = run(root, repo, "live", version="v2", release="../../etc")
    assert refused["failed"] and "is not a built or ready release" in refused["msg"] and live(root) == first


@pytest.mark.parametrize("state", ["built", "live"])
def test_a_web_host_without_the_app_servers_config_is_refused_before_anything_changes(root, repo, state):
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    config = root.parent / "etc" / "uwsgi.ini"
    refused = run(root, repo, state, serve=True, server_config=str(config), program="[program:webapp-${slot}]\n")
    assert refused.get("failed") and refused["msg"].startswith(f"{config} does not exist"), refused
    assert "Nothing was changed" in refused["msg"]
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before


class Host:
    """The little of AnsibleModule that draining uses: its parameters and run_command."""

    def __init__(self, root):
        self.params = {"root": str(root), "version": "v1", "user": "root", "group": "root", "commands_of": ""}

    @staticmethod
    def run_command(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr


def test_the_queue_of_a_listening_socket_is_read_and_an_unknown_one_is_none(root):
    release = app_release.Release(Host(root))
    path = root / "run" / "blue.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(16)
    clients = [socket.socket(socket.AF_UNIX) for _ in range(3)]
    try:
        for client in clients:
            client.connect(str(path))
        assert release.queued(path) == 3
        listener.accept()[0].close()
        assert release.queued(path) == 2
        assert release.queued(root / "run" / "green.sock") is None  # nothing listens there
    finally:
        for client in clients:
            client.close()
        listener.close()


@pytest.mark.parametrize("reads, slept_to_the_end", [
    ([0, 0], False),  # nothing queued: no wait beyond two reads
    ([3, 1, 0, 2, 0, 0], False),  # waits until two reads in a row find the queue empty
    ([None], True),  # the queue cannot be read: the whole drain time
])
def test_the_old_colour_drains_until_its_queue_stays_empty(root, monkeypatch, reads, slept_to_the_end):
    release = app_release.Release(Host(root))
    answers, slept = iter(reads), []
    monkeypatch.setattr(release, "queued", lambda _socket: next(answers))
    monkeypatch.setattr(app_release.time, "sleep", slept.append)
    release.drain(root / "run" / "blue.sock", 60)
    assert next(answers, "read all") == "read all"
    assert len(slept) == (1 if slept_to_the_end else len(reads) - 1)
    assert (slept[-1] > 50) == slept_to_the_end


def tag_with(repo, tag, files):
    """A commit on top of the repository with these files, tagged."""
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", tag)
    git(repo, "tag", tag)


def test_the_versions_a_release_names_its_python_with_are_read_as_heroku_pyenv_and_uv_write_them():
    assert app_release.asked_python("python-3.11.7\n") == (3, 11, 7)
    assert app_release.asked_python("# pinned\n\n3.12\n") == (3, 12)
    assert app_release.asked_python("cpython-3.13.1\n") == (3, 13, 1)
    assert app_release.asked_python("pypy3.10\n") is None
    assert app_release.asked_python("my-venv\n3.11\n") is None  # a pyenv environment's name: nothing to check
    assert app_release.asked_python("") is None


def test_a_release_asking_for_another_python_is_refused_before_it_is_built_naming_the_host_s_pythons(root, repo):
    run(root, repo, "built")
    run(root, repo, "live")
    before, folders = live(root), sorted(p.name for p in (root / "releases").iterdir())
    other = f"{sys.version_info.major}.{sys.version_info.minor + 1}"
    tag_with(repo, "v3", {"runtime.txt": f"python-{other}.0\n", "check.sh": "true\n"})
    failed = run(root, repo, "built", version="v3", python=sys.executable)
    assert failed["failed"], failed
    assert f"runtime.txt asks for Python {other}.0" in failed["msg"], failed["msg"]
    assert f"python3.{sys.version_info.minor}" in failed["msg"] and "python_app_python" in failed["msg"]
    assert "nothing live changed" in failed["msg"]
    assert sorted(p.name for p in (root / "releases").iterdir()) == folders and live(root) == before
    assert not (root / "deploy.lock").exists()
    # The inventory may say the app runs on this Python anyway.
    forced = run(root, repo, "built", version="v3", python=sys.executable, check_python=False)
    assert forced["built"], forced


def test_a_release_asking_for_the_host_s_python_builds_and_another_patch_level_is_a_warning(root, repo):
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    tag_with(repo, "v3", {".python-version": f"{minor}\n", "check.sh": "true\n"})
    built = run(root, repo, "built", version="v3", python=sys.executable)
    assert built["built"] and not built.get("warnings"), built
    patch = sys.version_info.micro + 1
    tag_with(repo, "v4", {".python-version": f"{minor}.{patch}\n"})
    built = run(root, repo, "built", version="v4", python=sys.executable)
    assert built["built"], built
    # ansible-core 2.19 returns each warning as an event: its text is what counts here.
    assert f".python-version asks for Python {minor}.{patch}" in json.dumps(built.get("warnings")), built


UV = Path(sys.executable).parent / "uv"


def wheel(folder, name, version):
    """A pure-Python wheel made by hand: one module that says its version (no index, no build backend)."""
    dist = f"{name}-{version}"
    files = {f"{name}.py": f"VERSION = {version!r}\n",
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n"}
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{dist}.dist-info/RECORD"])
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return f"vendor/{dist}-py3-none-any.whl"


@pytest.fixture
def locked_repo(repo):
    """v-lock: a pyproject.toml app with a uv.lock, greet 1.0 pinned and a dev group, no requirements file; then
    v-unlocked: the pyproject asks for greet 2.0 and the lock was not made again."""
    vendor = repo / "vendor"
    greet1, greet2 = wheel(vendor, "greet", "1.0"), wheel(vendor, "greet", "2.0")
    devtool = wheel(vendor, "devtool", "1.0")
    pyproject = """[project]
name = "lockapp"
version = "1.0"
requires-python = ">=3.9"
dependencies = ["greet==VERSION"]

[dependency-groups]
dev = ["devtool==1.0"]

[tool.uv]
package = false

[tool.uv.sources]
greet = { path = "WHEEL" }
devtool = { path = "DEVTOOL" }
"""
    (repo / "requirements.txt").unlink()
    (repo / "check.sh").write_text("true\n")
    (repo / "pyproject.toml").write_text(pyproject.replace("VERSION", "1.0").replace("WHEEL", greet1)
                                         .replace("DEVTOOL", devtool))
    subprocess.run([str(UV), "lock", "--offline", "--quiet"], cwd=repo, check=True,
                   env=dict(os.environ, UV_PYTHON=sys.executable))
    tag_with(repo, "v-lock", {})
    tag_with(repo, "v-unlocked", {"pyproject.toml": pyproject.replace("VERSION", "2.0").replace("WHEEL", greet2)
                                  .replace("DEVTOOL", devtool)})
    return repo


def installed(release):
    script = "import importlib.util as u, greet; print(greet.VERSION, u.find_spec('devtool') is not None)"
    return subprocess.run([str(release / ".venv" / "bin" / "python"), "-c", script], capture_output=True, text=True,
                          check=True).stdout.split()


def test_a_uv_lock_is_synced_exactly_without_the_dev_group(root, locked_repo):
    built = run(root, locked_repo, "built", version="v-lock", uv=str(UV), build_env={"UV_OFFLINE": "1"})
    assert built["built"] and built["install"] == "locked", built
    assert installed(root / "releases" / built["release"]) == ["1.0", "False"]
    # The lock, not the pyproject, says what ships: a pyproject changed without locking again still gets 1.0.
    built = run(root, locked_repo, "built", version="v-unlocked", uv=str(UV), build_env={"UV_OFFLINE": "1"})
    assert built["built"] and installed(root / "releases" / built["release"]) == ["1.0", "False"], built


def test_a_uv_lock_on_a_host_that_builds_with_pip_is_refused_with_the_way_out(root, locked_repo):
    failed = run(root, locked_repo, "built", version="v-lock")
    assert failed["failed"] and "uv.lock" in failed["msg"] and "python_app_install: project" in failed["msg"]
    assert "nothing live changed" in failed["msg"], failed["msg"]


def test_a_release_with_nothing_to_install_says_what_it_looked_for(root, repo):
    (repo / "requirements.txt").unlink()
    tag_with(repo, "v-bare", {"check.sh": "true\n"})
    failed = run(root, repo, "built", version="v-bare")
    assert failed["failed"] and "no uv.lock, requirements.txt, pyproject.toml or setup.py" in failed["msg"], failed


def test_a_disk_short_of_the_minimum_refuses_the_build_naming_it_and_the_live_release_stays(root, repo):
    run(root, repo, "built")
    run(root, repo, "live")
    before = live(root)
    refused = run(root, repo, "built", version="v2-broken", min_free_mb=2**40)  # a megabyte short of an exabyte
    assert refused["failed"] and refused["msg"].startswith('Deploy of v2-broken failed at "Check the free space'), \
        refused["msg"]
    assert f"(the filesystem of {root}), fewer than python_app_min_free_mb (1099511627776 MB)" in refused["msg"]
    assert "nothing live changed" in refused["msg"]
    assert live(root) == before and [p.name for p in (root / "releases").iterdir()] == [before]
    assert not (root / "deploy.lock").exists()
    assert run(root, repo, "built", version="v2-broken", min_free_mb=1)["step"] == \
        "Run the app's tests in the new release (nothing live has changed yet)"  # room enough: it builds


def test_a_disk_that_fills_up_during_the_build_is_named_and_nothing_half_built_counts(root, repo):
    run(root, repo, "built")
    run(root, repo, "live")
    before = live(root)
    full = run(root, repo, "built", version="v2-broken",
               test_command="echo 'write error: No space left on device' >&2; exit 1")
    assert full["failed"] and "The disk is full: " in full["msg"], full["msg"]
    assert f"(the filesystem of {root}) has " in full["msg"]
    assert live(root) == before
    statuses = {p.name: (p / ".webstack-status").read_text() for p in (root / "releases").iterdir()
                if p.name != before}
    assert list(statuses.values()) == [
        "failed: Run the app's tests in the new release (nothing live has changed yet)\n"]


def test_a_host_whose_uv_is_missing_builds_with_pip_and_says_so(root, repo):
    # deploy.yml builds without site.yml's install steps: a uv that is not there (site.yml fell back to pip) is no
    # reason to stop.
    missing = root.parent / "tools" / "bin" / "uv"
    built = run(root, repo, "built", uv=str(missing))
    assert built["built"] and (root / "releases" / built["release"] / ".venv" / "bin" / "pip").exists(), built
    assert f"{missing} is missing (site.yml installs it): this release is built with pip" in json.dumps(
        built.get("warnings")), built


def test_a_host_without_git_stops_before_fetching_naming_site_yml(root, repo, monkeypatch):
    monkeypatch.setattr(app_release, "SEARCH_PATH", str(root.parent / "no-tools-here"))
    release = app_release.Release(Host(root))
    with pytest.raises(app_release.StepFailed) as failed:
        release.built()
    assert failed.value.step == "Mirror the app repository"
    assert failed.value.output.startswith("git is not installed on this host: run site.yml"), failed.value.output
    assert not (root / "repo.git").exists() and not list((root / "releases").glob("*"))


@pytest.fixture
def webhook():
    """A webhook on loopback: the JSON bodies POSTed to it, in order; its URL as .url."""
    calls = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the name http.server calls
            length = int(self.headers["Content-Length"])
            calls.append({"path": self.path, "type": self.headers["Content-Type"],
                          "body": json.loads(self.rfile.read(length))})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # noqa: ARG002 - quiet
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield type("Webhook", (), {"calls": calls, "url": f"http://127.0.0.1:{server.server_port}/hooks/t0ken"})
    server.shutdown()


def test_the_webhook_hears_once_of_each_deploy_switch_back_and_failure_and_never_of_a_build(root, repo, webhook):
    hook = {"notify_url": webhook.url, "host_name": "web7"}
    first = run(root, repo, "built", **hook)["release"]
    assert webhook.calls == []  # a build alone deploys nothing
    assert run(root, repo, "live", **hook)["result"] == "deployed"
    [call] = webhook.calls
    assert (call["path"], call["type"]) == ("/hooks/t0ken", "application/json")
    assert {key: call["body"][key] for key in ("event", "app", "host", "release", "version", "commit", "by",
                                               "reason", "serving")} == {
        "event": "deployed", "app": "webapp", "host": "web7", "release": first, "version": "v1",
        "commit": git(repo, "rev-parse", "v1"), "by": "tester@here", "reason": "", "serving": first}

    second = run(root, repo, "built", version="v2", **hook)["release"]
    run(root, repo, "live", version="v2", **hook)
    # The second failed after its switch (a canary's watch): going back is one call, with why and what serves.
    run(root, repo, "live", release=first, live_failed="canary's watch of 30 s", **hook)
    assert [c["body"]["event"] for c in webhook.calls] == ["deployed", "deployed", "switched back"]
    back = webhook.calls[-1]["body"]
    assert (back["release"], back["version"], back["reason"], back["serving"]) == (
        second, "v2", "canary's watch of 30 s", first)

    failed = run(root, repo, "built", version="v2-broken", **hook)
    assert failed["failed"]
    broken = webhook.calls[-1]["body"]
    assert (broken["event"], broken["version"], broken["serving"]) == ("failed", "v2-broken", first)
    assert broken["reason"].startswith("Run the app's tests") and "this release must not ship" in broken["reason"]
    assert len(webhook.calls) == 4


def test_a_webhook_that_fails_is_a_warning_that_keeps_its_url_out_and_the_deploy_goes_on(root, repo):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks/s3cret-token"  # bound, not listening: refused
        run(root, repo, "built")
        switched = run(root, repo, "live", notify_url=url)
    assert switched["switched"] and switched["result"] == "deployed" and not switched.get("failed"), switched
    # ansible-core 2.19 returns each warning as a structure holding its message.
    assert "The webhook (notify_url) was not told of this deployed: URLError" in json.dumps(switched["warnings"])
    assert "s3cret-token" not in json.dumps(switched)
    assert history(root)[-1][5] == "deployed"
