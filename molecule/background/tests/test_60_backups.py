"""The database's backups on the backup host (pgbackrest role) and restore.yml: the repository is encrypted, a
restore reaches a point in time (rows before it back, rows after it gone, the app serving them), a lost data
directory comes back from the backup host, a deploy backs the database up before its release commands and a
failed migration is undone to that backup, the app's files come back byte for byte (SQLite through its own backup),
and bad requests change nothing."""

import json
import time
import uuid
from pathlib import Path

from background import DATA, WORKER
from estate import ROOT, fetch, live_release, post_job, sql, until, wait_for_job
from webstack_testing import Webhook, as_printed

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
RESTORE = PLAYBOOKS / "restore.yml"
DEPLOY = PLAYBOOKS / "deploy.yml"
RESTORE_FILES = PLAYBOOKS / "restore_files.yml"
STATUS = PLAYBOOKS / "status.yml"
SUMMARY = PLAYBOOKS / "summary.yml"
REPO = "/var/lib/pgbackrest"
STANZA = "webapp"
HALF_DONE = ("SELECT count(*) FROM information_schema.columns WHERE table_name = 'job' "
             "AND column_name = 'half_done'")


def backup(host, kind):
    """A backup now, by the unit the timers start (it fails the test if the unit fails)."""
    host.check_output(f"systemctl start pgbackrest-backup@{kind}.service")


def job_status(web, job_id):
    return fetch(web, f"/jobs/{job_id}")[0]


def db_now(data):
    """The database's clock, as restore_target_time takes it."""
    return sql(data, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")[0][0]


def started_at(data):
    return sql(data, "SELECT pg_postmaster_start_time()")[0][0]


def workers_running(workers):
    return [w.run("supervisorctl status webapp-celery-default").stdout.split()[1:2] for w in workers]


def test_the_repository_holds_no_row_readable_without_the_key(web1, data, worker):
    # The second worker host is the scenario's backup host.
    marker = f"secret-row-{uuid.uuid4().hex[:12]}"
    post_job(web1, marker)
    sql(data, "CHECKPOINT")
    backup(worker, "incr")
    data.check_output(f"runuser -u postgres -- pgbackrest --stanza={STANZA} check")  # the WAL with it is archived
    # Every file of the repository, uncompressed where it is plain gzip (as it would be without encryption).
    read_all = (f"find {REPO} -type f -exec sh -c 'gzip -dc \"$1\" 2>/dev/null || cat \"$1\"' _ {{}} \\; "
                f"| grep -c -a -F {marker} || true")
    assert int(worker.check_output(read_all)) == 0
    files = worker.check_output(f"find {REPO}/backup {REPO}/archive -type f | wc -l")
    assert int(files) > 3
    # The key's holder reads it all back: the backups are there, and complete.
    info = json.loads(worker.check_output(
        f"runuser -u pgbackrest -- pgbackrest --stanza={STANZA} --output=json info"))[0]
    assert info["status"]["code"] == 0, info
    assert [b["type"] for b in info["backup"]][:1] == ["full"]
    # Without the passphrase (same repository, no cipher settings) pgBackRest cannot read it either.
    keyless = worker.run(f"runuser -u pgbackrest -- pgbackrest --config=/dev/null --repo1-path={REPO} "
                         f"--stanza={STANZA} --output=json info")
    answer = json.loads(keyless.stdout_bytes.decode(errors="replace"), strict=False)[0]  # it quotes garbage
    assert answer["status"]["code"] != 0 and not answer["backup"], answer


def test_a_backup_that_fails_calls_the_webhook_and_shows_in_status_and_the_summary(run_playbook, worker):
    info = json.loads(worker.check_output(
        f"runuser -u pgbackrest -- pgbackrest --stanza={STANZA} --output=json info"))[0]
    newest, oldest = info["backup"][-1], info["backup"][0]
    # A backup that cannot run (its settings gone for a moment) leaves its unit failed, and tells the webhook.
    with Webhook(worker) as webhook:
        worker.check_output("mv /etc/pgbackrest.conf /etc/pgbackrest.conf.away")
        try:
            assert worker.run("systemctl start pgbackrest-backup@incr.service").rc != 0
        finally:
            worker.check_output("mv /etc/pgbackrest.conf.away /etc/pgbackrest.conf")
        calls = webhook.calls()
    assert [(c["event"], c["app"], c["host"], c["kind"], c["result"]) for c in calls] == [
        ("backup failed", STANZA, WORKER, "incr", "exit-code")], calls
    # status.yml's table, and the summary every playbook ends with, say so.
    try:
        runs = [run_playbook(STATUS), run_playbook(SUMMARY)]
    finally:
        worker.run("systemctl reset-failed pgbackrest-backup@incr.service")
    stop = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(newest["timestamp"]["stop"]))
    back = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(oldest["timestamp"]["stop"]))
    for rc, output in runs:
        assert rc == 0, output[-3000:]
        printed = as_printed(output)
        assert (f"{WORKER}: backups of {STANZA}: newest {newest['type']} {newest['label']} ended {stop} (0h "
                in printed), printed[-3000:]
        assert f"{len(info['backup'])} kept, a restore reaches back to {back}; the last run of " \
            "pgbackrest-backup@incr.service failed (see systemctl status)" in printed, printed[-3000:]


def test_restore_refuses_a_time_outside_the_backups_and_changes_nothing(run_playbook, web1, data):
    before = started_at(data)
    for target, said in (("2099-01-01 00:00:00+00", "is in the future (the backup host says it is"),
                         ("2000-01-01 00:00:00+00", "is before the end of the oldest backup kept ("),
                         ("next tuesday", "is not a time such as 2026-12-06 10:42:00+00")):
        rc, output = run_playbook(RESTORE, extra_vars={"restore_target_time": target, "restore_confirm": "yes"})
        assert rc != 0
        printed = as_printed(output).replace('"', "")
        assert f"Nothing changed: restore_target_time {target} {said}" in printed, printed[-2000:]
    assert started_at(data) == before
    assert fetch(web1, "/")[0] == 200


def test_restore_to_a_time_brings_back_every_row_before_it_and_none_after(run_playbook, web1, data, worker,
                                                                          workers):
    tag = uuid.uuid4().hex[:8]
    before_backup = [post_job(web1, f"pitr-a-{tag}-{n}")["id"] for n in range(3)]
    backup(worker, "full")
    before_target = [post_job(web1, f"pitr-b-{tag}-{n}")["id"] for n in range(3)]
    target = db_now(data)
    time.sleep(1.5)
    after_target = [post_job(web1, f"pitr-c-{tag}-{n}")["id"] for n in range(3)]
    sql(data, "DROP TABLE job CASCADE")  # the mistake the restore undoes
    assert job_status(web1, f"{before_target[0]}") == 500

    # Asked without the confirmation: it says what it would do, and does nothing.
    rc, output = run_playbook(RESTORE, extra_vars={"restore_target_time": target})
    printed = as_printed(output)
    assert rc != 0
    assert f"Restore stanza {STANZA} onto {DATA} from backup" in printed, printed[-3000:]
    assert f"replay the archived WAL up to {target}" in printed
    assert "Nothing changed: this is what a restore would do. Run again with -e restore_confirm=yes" in printed
    assert sql(data, "SELECT to_regclass('job') IS NULL")[0][0] == "t"

    rc, output = run_playbook(RESTORE, extra_vars={"restore_target_time": target, "restore_confirm": "yes"})
    assert rc == 0, output[-4000:]
    assert [job_status(web1, i) for i in before_backup + before_target] == [200] * 6
    assert [job_status(web1, i) for i in after_target] == [404] * 3
    # The maintenance page is down and the workers run again: a job sent now is done.
    assert fetch(web1, "/")[0] == 200
    assert workers_running(workers) == [["RUNNING"]] * len(workers)
    assert wait_for_job(web1, post_job(web1, f"pitr-d-{tag}")["id"])["status"] == "done"


def test_a_lost_data_directory_comes_back_from_the_backup_host(run_playbook, web1, data):
    job_id = post_job(web1, f"lost-{uuid.uuid4().hex[:8]}")["id"]
    data.check_output(f"runuser -u postgres -- pgbackrest --stanza={STANZA} check")  # archived, as archive_timeout would
    data.check_output("systemctl stop postgresql && rm -rf /var/lib/postgresql/*/main")
    assert job_status(web1, job_id) == 500

    rc, output = run_playbook(RESTORE, extra_vars={"restore_confirm": "yes"})
    assert rc == 0, output[-4000:]
    assert "replay the archived WAL to its end" in as_printed(output)
    assert until(lambda: job_status(web1, job_id), lambda status: status == 200, seconds=30) == 200
    assert data.check_output("ls /var/lib/postgresql/*/main/PG_VERSION")


def test_a_deploy_backs_up_before_its_release_commands_and_a_failed_migration_is_undone_to_that_backup(
        run_playbook, web1, data, worker):
    # A migration that changes the schema and then fails: the release never serves, and the backup deploy.yml took
    # just before the release commands, labelled with the release, brings the schema back as it was.
    kept = post_job(web1, f"premigration-{uuid.uuid4().hex[:8]}")["id"]
    live = live_release(web1)
    migration = ("python -c \"import os, sqlalchemy as s; c = s.create_engine(os.environ['DATABASE_URL']).connect(); "
                 "c.execute(s.text('ALTER TABLE job ADD COLUMN half_done integer')); c.commit()\"")
    rc, output = run_playbook(DEPLOY, extra_vars={
        "python_app_version": "v1.1.0", "python_app_release_commands": [migration, "echo it broke halfway; false"]})
    assert rc != 0 and 'failed at "Run the release commands' in as_printed(output), output[-3000:]
    assert live_release(web1) == live and fetch(web1, "/")[0] == 200
    assert sql(data, HALF_DONE)[0][0] == "1"
    held = web1.check_output(f"ls {ROOT}/releases").split()[-1]
    assert web1.check_output(f"cat {ROOT}/releases/{held}/.webstack-status").startswith("failed: Run the release")
    info = json.loads(worker.check_output(f"runuser -u pgbackrest -- pgbackrest --stanza={STANZA} --output=json info"))
    labelled = [b["label"] for b in info[0]["backup"] if b.get("annotation", {}).get("release") == held]
    assert len(labelled) == 1, info[0]["backup"]

    rc, output = run_playbook(RESTORE, extra_vars={"restore_release": "20000101T000000Z-0000000000",
                                                   "restore_confirm": "yes"})
    assert rc != 0 and "Nothing changed: no backup kept is labelled with release 20000101T000000Z-0000000000" in \
        as_printed(output), output[-3000:]
    assert sql(data, HALF_DONE)[0][0] == "1"

    rc, output = run_playbook(RESTORE, extra_vars={"restore_release": held, "restore_confirm": "yes"})
    assert rc == 0, output[-4000:]
    printed = as_printed(output)
    assert (f"from backup {labelled[0]} (incr, ended" in printed and "then stop at its end: the database as it was "
            f"before the release commands of {held} ran" in printed), printed[-3000:]
    assert sql(data, HALF_DONE)[0][0] == "0"
    assert until(lambda: job_status(web1, kept), lambda status: status == 200, seconds=30) == 200


RESTIC = ("RESTIC_REPOSITORY=sftp:webstack-backup:/var/lib/restic/webapp RESTIC_PASSWORD_FILE={password} "
          "restic -o 'sftp.command=ssh -F /etc/webstack-restic/ssh_config webstack-backup -s sftp'")
SQLITE = "python3 -c \"import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); {code}\" {path} {value}"


def test_the_app_s_files_come_back_byte_for_byte_and_its_sqlite_database_whole(run_playbook, web1, worker):
    instance = f"{ROOT}/shared/instance"
    marker = f"restic-marker-{uuid.uuid4().hex}"
    owner = web1.check_output(f"stat -c %U:%G {instance}")
    upload, note, database = f"{instance}/upload.bin", f"{instance}/note.txt", f"{instance}/app.sqlite3"
    web1.check_output(f"head -c 300000 /dev/urandom > {upload} && echo {marker} > {note} && "
                      f"chown {owner} {upload} {note} && chmod 0640 {upload}")
    web1.check_output(SQLITE.format(path=database, value=marker, code=(
        "db.execute('PRAGMA journal_mode=WAL'); db.execute('CREATE TABLE notes (note TEXT)'); "
        "db.execute('INSERT INTO notes VALUES (?)', (sys.argv[2],)); db.commit()")))
    sums = web1.check_output(f"sha256sum {upload} {note}")
    modes = web1.check_output(f"stat -c '%n %U:%G %a' {upload} {note}")
    web1.check_output("systemctl start webstack-files-backup.service")

    # The snapshot holds SQLite's copy of the database, never the live file; the repository is unreadable without
    # the password, and its raw files show nothing of the files' content.
    restic = RESTIC.format(password="/etc/webstack-restic/password")
    listed = web1.check_output(f"{restic} ls latest --host bg-web").splitlines()
    assert f"/var/lib/webstack-restic/sqlite{database}" in listed and upload in listed, listed
    assert database not in listed and f"{database}-wal" not in listed
    assert web1.run(f"echo wrong-password-000000000 > /tmp/wrong && {RESTIC.format(password='/tmp/wrong')} "
                    "cat config").rc != 0
    assert worker.run(f"grep -rlF {marker} /var/lib/restic/webapp").rc == 1
    assert web1.run(f"grep -rlF {marker} {instance}").rc == 0  # the search finds it where it is plain

    web1.check_output(f"rm {upload} && echo changed > {note}")
    web1.check_output(SQLITE.format(path=database, value="", code="db.execute('DROP TABLE notes'); db.commit()"))
    rc, output = run_playbook(RESTORE_FILES)
    assert rc != 0 and "bg-web: restore snapshot" in as_printed(output), output[-3000:]
    assert web1.run(f"test -e {upload}").rc == 1  # shown, not done

    rc, output = run_playbook(RESTORE_FILES, extra_vars={"restore_confirm": "yes"})
    assert rc == 0, output[-4000:]
    assert web1.check_output(f"sha256sum {upload} {note}") == sums
    assert web1.check_output(f"stat -c '%n %U:%G %a' {upload} {note}") == modes
    assert web1.check_output(SQLITE.format(path=database, value="", code=(
        "print(db.execute('SELECT note FROM notes').fetchall()[0][0])"))) == marker
    web1.check_output(f"rm -f {upload} {note} {database}*")
