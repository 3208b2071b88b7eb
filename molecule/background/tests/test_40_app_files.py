"""python_app_files: a secret file the app reads, private to the app's user; changed by deploy.yml with no rebuild,
the app server and the workers restarted onto the same release. Last of the scenario: the file stays changed."""

from pathlib import Path

from estate import LIVE_PROGRAM, ROOT, health, running_colours

CONFIG = f"{ROOT}/shared/instance/config.py"
WORKER_PROGRAM = "webapp-celery-default"
DEPLOY = Path(__file__).resolve().parents[3] / "playbooks" / "deploy.yml"


def test_the_secret_file_is_the_app_user_s_alone_and_the_app_reads_it_through_its_instance_folder(web1, worker):
    for host in (web1, worker):
        config = host.file(CONFIG)
        assert (config.user, config.mode) == ("deploy", 0o600)
        assert config.content_string == "REPORT_TOKEN = 'bg-file-secret-51d2'\n"
        assert host.run(f"runuser -u nobody -- cat {CONFIG}").rc != 0
        # The release's instance/ is the shared one: an app's from_pyfile("config.py") finds the file there.
        seen = host.check_output(f"runuser -u deploy -- cat {ROOT}/current/instance/config.py")
        assert seen == config.content_string.strip()


def test_a_changed_file_restarts_the_app_and_the_workers_onto_the_same_release_without_showing_it(
        web1, workers, run_playbook):
    # Each host's own release: hosts build the same commit, but each names its folder by its own clock.
    releases = {host: host.check_output(f"readlink {ROOT}/current") for host in workers}
    program = web1.check_output(f"echo {LIVE_PROGRAM}")
    pids = {host: host.check_output(f"supervisorctl pid {WORKER_PROGRAM}") for host in workers}
    rc, output = run_playbook(DEPLOY, extra_vars={"python_app_files": [
        {"path": "instance/config.py", "content": "REPORT_TOKEN = 'an0ther-file-secret'\n"}]})
    assert rc == 0, output[-3000:]
    assert "an0ther-file-secret" not in output
    for host in workers:
        assert host.file(CONFIG).content_string == "REPORT_TOKEN = 'an0ther-file-secret'\n"
        assert host.check_output(f"readlink {ROOT}/current") == releases[host]  # nothing was rebuilt
        assert host.check_output(f"supervisorctl pid {WORKER_PROGRAM}") != pids[host]
    assert web1.check_output(f"echo {LIVE_PROGRAM}") != program  # the other colour serves the same release now
    # The old colour stopped before the playbook ended (this web host runs workers too: it stops in the foreground).
    assert len(running_colours(web1)) == 1, web1.check_output("supervisorctl status")
    assert health(web1)["status"] == "ok"
