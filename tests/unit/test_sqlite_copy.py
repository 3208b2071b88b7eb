"""roles/restic/files/webstack-sqlite-copy: SQLite databases found by their header, copied whole with SQLite's
backup (a database held open mid-transaction included), the live files named for the backup to leave out, and
copied back into the live file on restore."""

import os
import sqlite3
import subprocess
import sys

from conftest import ROOT

HELPER = ROOT / "roles" / "restic" / "files" / "webstack-sqlite-copy"


def helper(*args):
    return subprocess.run([sys.executable, str(HELPER), *map(str, args)], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def rows(path):
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT note FROM notes ORDER BY id")]


def test_a_live_database_is_copied_whole_its_files_are_named_and_it_comes_back_on_restore(tmp_path):
    shared, staging = tmp_path / "shared", tmp_path / "staging"
    (shared / "instance").mkdir(parents=True)
    live = shared / "instance" / "app.sqlite3"
    (shared / "instance" / "not-a-database.db").write_bytes(b"plain bytes, no SQLite header")
    db = sqlite3.connect(live)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)")
    db.execute("INSERT INTO notes (note) VALUES ('committed')")
    db.commit()
    os.chmod(live, 0o640)
    # A write under way when the backup runs: the copy has what was committed, and not the half-done write.
    db.execute("BEGIN")
    db.execute("INSERT INTO notes (note) VALUES ('not committed yet')")
    try:
        left_out = helper("backup", staging, shared)
    finally:
        db.rollback()
        db.close()
    assert left_out == [str(live) + suffix for suffix in ("", "-wal", "-shm", "-journal")]
    staged = staging / str(live).lstrip("/")
    assert rows(staged) == ["committed"]
    assert oct(staged.stat().st_mode & 0o777) == "0o640"
    assert not (staging / str(shared / "instance" / "not-a-database.db").lstrip("/")).exists()

    with sqlite3.connect(live) as db:
        db.execute("DROP TABLE notes")
    assert helper("restore", staging, shared) == [str(live)]
    assert rows(live) == ["committed"]
    live.unlink()
    assert helper("restore", staging, shared) == [str(live)]  # a lost database comes back, with its mode
    assert rows(live) == ["committed"] and oct(live.stat().st_mode & 0o777) == "0o640"


def test_paths_without_a_database_leave_nothing_out():
    assert helper("backup", "/nonexistent-staging", ROOT / "docs") == []
