"""plugins/modules/system_files.py, run as Ansible runs it (its JSON arguments on stdin) on files under tmp_path."""

import json
import os
import stat
import subprocess
import sys

from conftest import ROOT

MODULE = ROOT / "plugins" / "modules" / "system_files.py"


def run(check=False, diff=False, **options):
    args = {**options, "_ansible_check_mode": check, "_ansible_diff": diff}
    proc = subprocess.run([sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
                          capture_output=True, text=True, check=False)
    return json.loads(proc.stdout)


def mode(path):
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def test_files_folders_lines_and_modes_are_put_in_place_then_a_second_call_changes_nothing(tmp_path):
    defaults = tmp_path / "login.defs"
    defaults.write_text("# umask\n#UMASK\t022\nPASS_MAX_DAYS\t99999\nPASS_MAX_DAYS\t88888\nMAIL_DIR /var/mail")
    crontab = tmp_path / "crontab"
    crontab.write_text("# m h dom mon dow\n")
    crontab.chmod(0o644)
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    home.chmod(0o755)
    old_key = tmp_path / "ssh_host_dsa_key"
    old_key.write_text("key")
    options = {
        "directories": [{"path": str(tmp_path / "conf.d"), "mode": "0755"}],
        "files": [{"path": str(tmp_path / "conf.d" / "50-core.conf"), "content": "[Coredump]\nStorage=none\n",
                   "mode": "0644"},
                  {"path": str(tmp_path / "issue"), "content": "Authorised use only.\n", "mode": "0644"}],
        "lines": [{"path": str(defaults), "regexp": r"^#?\s*UMASK\s", "line": "UMASK\t027"},
                  {"path": str(defaults), "regexp": r"^#?\s*PASS_MAX_DAYS\s", "line": "PASS_MAX_DAYS\t365"},
                  {"path": str(defaults), "regexp": r"^#?\s*ENCRYPT_METHOD\s", "line": "ENCRYPT_METHOD YESCRYPT"}],
        "modes": [{"path": str(crontab), "owner": "root", "group": "root", "mode": "0600"},
                  {"path": str(tmp_path / "cron.hourly"), "mode": "0700"},
                  {"path": str(tmp_path / "home" / "*"), "mode": "o-rwx"}],
        "absent": [str(old_key), str(tmp_path / "ssh_host_ecdsa_key")],
    }
    first = run(**options)
    assert first["changed"] is True, first
    assert first["changed_paths"] == [str(tmp_path / "conf.d"), str(tmp_path / "conf.d" / "50-core.conf"),
                                      str(tmp_path / "issue"), str(defaults), str(crontab), str(home), str(old_key)]
    assert (tmp_path / "conf.d" / "50-core.conf").read_text() == "[Coredump]\nStorage=none\n"
    assert mode(tmp_path / "conf.d") == "0o755" and mode(tmp_path / "issue") == "0o644"
    # The last match is replaced (as lineinfile does), a line found nowhere goes at the end after a newline.
    assert defaults.read_text() == ("# umask\nUMASK\t027\nPASS_MAX_DAYS\t99999\nPASS_MAX_DAYS\t365\n"
                                    "MAIL_DIR /var/mail\nENCRYPT_METHOD YESCRYPT\n")
    assert mode(crontab) == "0o600" and mode(home) == "0o750"
    assert not old_key.exists()
    assert not list(tmp_path.glob("**/.pyops-*")), "a temporary file was left behind"

    second = run(diff=True, **options)
    assert second == {"changed": False, "changed_paths": [], "diff": [], "invocation": second["invocation"]}


def test_check_mode_tells_what_would_change_with_diffs_and_changes_nothing(tmp_path):
    settings = tmp_path / "sysstat"
    settings.write_text('ENABLED="false"\n')
    banner = tmp_path / "issue"
    banner.write_text("Debian GNU/Linux 12\n")
    banner.chmod(0o600)
    result = run(check=True, diff=True,
                 directories=[{"path": str(tmp_path / "new"), "mode": "0700"}],
                 files=[{"path": str(banner), "content": "Authorised use only.\n", "mode": "0644"},
                        {"path": str(tmp_path / "new" / "file"), "content": "x\n", "mode": "0600"}],
                 lines=[{"path": str(settings), "regexp": "^ENABLED=", "line": 'ENABLED="true"'}])
    assert result["changed"] is True
    assert result["changed_paths"] == [str(tmp_path / "new"), str(banner), str(tmp_path / "new" / "file"),
                                       str(settings)]
    diffs = {(entry["before_header"], entry["before"], entry["after"]) for entry in result["diff"]}
    assert (str(banner), "Debian GNU/Linux 12\n", "Authorised use only.\n") in diffs
    assert (str(settings), 'ENABLED="false"\n', 'ENABLED="true"\n') in diffs
    assert (str(banner), "mode: 0600\n", "mode: 0644\n") in diffs
    assert not (tmp_path / "new").exists()
    assert banner.read_text() == "Debian GNU/Linux 12\n" and mode(banner) == "0o600"
    assert settings.read_text() == 'ENABLED="false"\n'


def test_bad_entries_stop_the_call_before_anything_changes(tmp_path):
    banner = tmp_path / "issue"
    banner.write_text("old\n")
    (tmp_path / "folder").mkdir()
    result = run(directories=[{"path": str(banner), "mode": "0755"}],
                 files=[{"path": str(banner), "content": "new\n", "mode": "0644"},
                        {"path": str(tmp_path / "nowhere" / "file"), "content": "x", "mode": "0644"}],
                 lines=[{"path": str(tmp_path / "debsums"), "regexp": "^CRON_CHECK=", "line": "CRON_CHECK=weekly"},
                        {"path": str(banner), "regexp": "^(unclosed", "line": "x"}],
                 absent=[str(tmp_path / "folder")])
    assert result["failed"] is True
    assert result["changed_paths"] == []
    for part in (f"directories: {banner} exists and is not a folder",
                 f"the folder of {tmp_path}/nowhere/file does not exist",
                 f"lines: {tmp_path}/debsums does not exist",
                 "the regexp '^(unclosed' for",
                 f"absent: {tmp_path}/folder is a folder"):
        assert part in result["msg"], result["msg"]
    assert banner.read_text() == "old\n"
    assert (tmp_path / "folder").is_dir()
