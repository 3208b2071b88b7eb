"""deploy_user: the account that owns and deploys the app, checked from where a user would look."""

import hashlib
from pathlib import Path

import paramiko
import pytest

from webstack_testing import ssh_login

CONVERGE = Path(__file__).resolve().parent.parent / "converge.yml"
SUDOERS = "/etc/sudoers.d/50-pyops-deploy"
SUPERVISORCTL = "/usr/bin/supervisorctl"


def test_user_has_its_home_shell_and_no_other_groups(host):
    user = host.user("deploy")
    assert user.exists
    assert user.home == "/home/deploy"
    assert user.shell == "/bin/bash"
    # The book puts deploy in `sudo`; the role must have taken that blanket right away.
    assert user.groups == ["deploy"]
    home = host.file("/home/deploy")
    assert (home.user, home.mode) == ("deploy", 0o750)


def test_key_login_works(host, address, harness):
    assert ssh_login(address, "deploy", key_file=harness["harness_login_key"]) == "deploy"


def test_password_login_is_refused(host, address):
    # The stock sshd still accepts passwords in general, so a refusal here comes from the account.
    assert "passwordauthentication yes" in host.check_output("sshd -T")
    with pytest.raises(paramiko.AuthenticationException):
        ssh_login(address, "deploy", password="book-era-password")


def test_sudo_allows_exactly_the_deploy_commands(host):
    listing = host.check_output("sudo -l -U deploy")
    rules = listing.split("may run the following commands", 1)[1]
    assert "(ALL : ALL) ALL" not in rules
    for allowed in (f"{SUPERVISORCTL} restart webapp:*", f"{SUPERVISORCTL} signal HUP webapp", f"{SUPERVISORCTL} reread"):
        assert host.run(f"sudo -l -U deploy {allowed}").rc == 0, allowed
    for refused in (f"{SUPERVISORCTL} restart other:*", f"{SUPERVISORCTL} shutdown", "/bin/bash", "/usr/bin/apt-get"):
        assert host.run(f"sudo -l -U deploy {refused}").rc != 0, refused
    # And as the user itself, without a password, anything else is refused.
    assert host.run("runuser -u deploy -- sudo -n /usr/bin/id").rc != 0


def test_sudoers_drop_in_is_root_only_and_valid(host):
    sudoers = host.file(SUDOERS)
    assert (sudoers.user, sudoers.group, sudoers.mode) == ("root", "root", 0o440)
    assert host.run("visudo -c").rc == 0


def test_deploy_key_pulls_from_the_git_server(host, harness):
    # Debian 12 uses the supplied key, Debian 13 the one it generated; both must reach the server
    # over SSH with a verified host key (StrictHostKeyChecking stays on).
    refs = host.check_output(
        "runuser -u deploy -- env GIT_SSH_COMMAND='ssh -o BatchMode=yes -o StrictHostKeyChecking=yes' "
        "git ls-remote --tags %s",
        harness["harness_git_ssh_url"],
    )
    assert "refs/tags/v1.0.0" in refs
    key = host.file("/home/deploy/.ssh/id_ed25519")
    assert (key.user, key.mode) == ("deploy", 0o600)


def test_broken_sudoers_rule_is_refused_and_live_rules_keep_working(host, run_playbook):
    name = host.backend.get_hostname()
    before = hashlib.sha256(host.file(SUDOERS).content).hexdigest()
    # An unescaped ":" is the classic sudoers mistake; visudo must catch it before it goes live.
    rc, output = run_playbook(
        CONVERGE,
        limit=name,
        extra_vars={"deploy_user_sudo_commands": [f"{SUPERVISORCTL} restart worker:*"]},
    )
    assert rc != 0
    assert "syntax error" in output
    assert hashlib.sha256(host.file(SUDOERS).content).hexdigest() == before
    assert host.run(f"sudo -l -U deploy {SUPERVISORCTL} restart webapp:*").rc == 0
    assert host.run("visudo -c").rc == 0


def test_bad_value_stops_the_play_before_any_task(host, run_playbook):
    name = host.backend.get_hostname()
    rc, output = run_playbook(CONVERGE, limit=name, extra_vars={"deploy_user_name": ["deploy", "other"]})
    assert rc != 0
    assert "Validating arguments against arg spec" in output
    assert "deploy_user_name" in output
    assert "Create the deploy user" not in output


def test_a_package_removed_by_hand_is_installed_again_and_a_full_host_calls_no_apt(host, run_playbook):
    # The role asks dpkg which packages are missing and calls apt only then: git removed by hand must come back,
    # and on the run after, with everything installed, the apt task must be skipped, not merely unchanged.
    name = host.backend.get_hostname()
    host.run_expect([0], "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q git >/dev/null")
    assert host.run("dpkg-query --show --showformat '${db:Status-Abbrev}' git").stdout.strip() != "ii"
    rc, output = run_playbook(CONVERGE, limit=name, verbosity=1)
    assert rc == 0, output[-3000:]
    assert host.package("git").is_installed
    rc, output = run_playbook(CONVERGE, limit=name, verbosity=1)
    assert rc == 0, output[-3000:]
    task = output.split("TASK [pyops.webstack.deploy_user : Install the SSH client the deploy user pulls code with]")[1]
    task = task.split("TASK [")[0]  # this task's lines only, up to the next task's header
    assert f"skipping: [{name}]" in task and f"ok: [{name}]" not in task, task[:500]
