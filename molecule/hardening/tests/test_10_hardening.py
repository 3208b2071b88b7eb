"""hardening: the effective state of a hardened server, checked from outside as an auditor and an attacker would."""

import hashlib
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from webstack_testing import SSH_AUDIT_POLICIES, lynis_hardening_index, openssh

CONVERGE = Path(__file__).resolve().parent.parent / "converge.yml"
DROPIN = "/etc/ssh/sshd_config.d/00-pyops-hardening.conf"
SSH_AUDIT = Path(sys.executable).parent / "ssh-audit"


def debian(host):
    return host.check_output("cut -d. -f1 /etc/debian_version")


def sshd_settings(host):
    """sshd -T's effective settings; a keyword it prints on several lines (allowgroups) keeps them all."""
    settings = {}
    for line in host.check_output("sshd -T").splitlines():
        key, _, value = line.partition(" ")
        settings[key] = f"{settings[key]} {value}" if key in settings else value
    return settings


def test_sshd_runs_with_the_hardened_settings(host):
    settings = sshd_settings(host)
    expected = {
        "permitrootlogin": "no",
        "passwordauthentication": "no",
        "kbdinteractiveauthentication": "no",
        "authenticationmethods": "publickey",
        "allowgroups": "sudo deploy pgbackrest",  # pgbackrest: the backups' SSH users (pgbackrest role)
        "maxauthtries": "3",
        "allowtcpforwarding": "no",
        "allowagentforwarding": "no",
        "x11forwarding": "no",
        "banner": "/etc/issue.net",
    }
    assert {key: settings.get(key) for key in expected} == expected
    # sshd keeps the first value it reads: the drop-in must sort before every other one.
    assert sorted(host.file("/etc/ssh/sshd_config.d").listdir())[0] == Path(DROPIN).name


def test_a_later_drop_in_cannot_turn_passwords_back_on(host):
    later = "/etc/ssh/sshd_config.d/50-cloud-init.conf"
    host.run_expect([0], f"printf 'PasswordAuthentication yes\\nPermitRootLogin yes\\n' > {later}")
    try:
        settings = sshd_settings(host)
        assert (settings["passwordauthentication"], settings["permitrootlogin"]) == ("no", "no")
    finally:
        host.run_expect([0], f"rm -f {later}")


def test_password_login_is_not_even_offered(host, address):
    # The admin still has a password in /etc/shadow (the stock sshd took it); sshd itself must now refuse it:
    # the methods it lists after the client asks for password authentication are publickey alone.
    assert host.check_output("passwd -S admin").split()[1] == "P"
    result = openssh(address, "admin", options=("-o", "PreferredAuthentications=password,keyboard-interactive",
                                                "-o", "PubkeyAuthentication=no"))
    assert result.returncode == 255
    assert "Permission denied (publickey)." in result.stderr


def test_key_login_for_the_deploy_user_works(host, address, harness):
    result = openssh(address, "deploy", key_file=harness["harness_login_key"])
    assert (result.returncode, result.stdout.strip()) == (0, "deploy"), result.stderr


def test_root_cannot_log_in_even_with_a_key(host, address, harness):
    host.run_expect([0], "install -d -m 0700 /root/.ssh")
    host.run_expect([0], "cp /home/deploy/.ssh/authorized_keys /root/.ssh/authorized_keys")
    try:
        result = openssh(address, "root", key_file=harness["harness_login_key"])
        assert result.returncode == 255
        assert "Permission denied" in result.stderr
    finally:
        host.run_expect([0], "rm -f /root/.ssh/authorized_keys")


def test_ssh_audit_passes_the_hardening_guide_policy(host, address):
    policy = SSH_AUDIT_POLICIES[debian(host)]
    # The policy audit alone: the connection-rate (DHEat) probe opens dozens of connections at once, which sshd's
    # MaxStartups throttles (the point of it) and fail2ban would count against this machine.
    result = subprocess.run([str(SSH_AUDIT), "--skip-rate-test", "-P", policy, address], capture_output=True,
                            text=True, timeout=120, check=False)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_firewall_drops_a_port_that_is_not_allowed(host, address):
    ruleset = host.check_output("nft list table inet pyops_filter")
    assert "hook input priority filter; policy drop;" in ruleset
    # Both services answer inside the host, so whatever stops 8081 from outside is the firewall.
    for port in (8080, 8081):
        host.run_expect([0], f"python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/')\"")
    with socket.create_connection((address, 8080), timeout=5):
        pass
    with pytest.raises(TimeoutError):
        socket.create_connection((address, 8081), timeout=5)


def test_sysctls_are_live_wherever_this_kernel_lets_them_be(host):
    left = []
    for line in host.file("/etc/sysctl.d/60-pyops-hardening.conf").content_string.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        live = host.run(f"sysctl -n {key}")
        if live.rc == 0 and live.stdout.strip() == value:
            continue
        # Not live: acceptable only when this kernel refuses the write (a container's read-only /proc/sys).
        assert host.run(f"sysctl -w {key}={value}").rc != 0, f"{key} was writable but left at {live.stdout.strip()}"
        left.append(key)
    print(f"sysctls the container's host keeps: {len(left)}: {' '.join(left)}")


def test_core_dumps_umask_su_and_cron_are_locked_down(host):
    assert host.check_output("runuser -l deploy -c 'ulimit -Hc'") == "0"
    assert host.check_output("runuser -l deploy -c umask") == "0027"
    assert host.run("grep -Eq '^auth\\s+required\\s+pam_wheel.so use_uid group=sudo' /etc/pam.d/su").rc == 0
    crontab = host.file("/etc/crontab")
    assert (crontab.user, crontab.mode) == ("root", 0o600)
    assert host.file("/etc/ssh/sshd_config").mode == 0o600
    assert "Authorized access only" in host.file("/etc/issue.net").content_string
    for home in ("/home/admin", "/home/deploy"):
        assert host.file(home).mode & 0o007 == 0, home
    assert "install usb-storage /bin/false" in host.file("/etc/modprobe.d/pyops-hardening.conf").content_string


def test_services_run_and_security_updates_are_scheduled(host):
    for service in ("ssh", "nftables", "fail2ban"):
        assert host.run(f"systemctl is-active {service}").stdout.strip() == "active", service
        assert host.service(service).is_enabled, service
    assert "Jail list:\tsshd" in host.check_output("fail2ban-client status")
    assert host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade") == 'APT::Periodic::Unattended-Upgrade "1";'
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_lynis_hardening_index_is_at_least_80(host):
    host.run_expect([0], "lynis audit system --quick --no-colors --no-log --report-file /root/lynis-hardened.dat")
    report = host.file("/root/lynis-hardened.dat").content_string
    hardened = lynis_hardening_index(report)
    stock = lynis_hardening_index(host.file("/root/lynis-stock.dat").content_string)
    suggestions = re.findall(r"^suggestion\[\]=(.*)$", report, re.M)
    print(f"Lynis hardening index on Debian {debian(host)}: stock {stock}, hardened {hardened}")
    print("remaining suggestions:\n  " + "\n  ".join(suggestions))
    assert hardened >= 80


@pytest.mark.parametrize(
    "extra_vars, message",
    [
        ({"hardening_ssh_ciphers": ["aes256-gcm@openssh.com", "des-cbc-nope"]}, r"does\s+not\s+know\s+des-cbc-nope"),
        ({"hardening_ssh_port": 70000}, r"hardening_ssh_port\s+must\s+be\s+1-65535\s+\(got\s+70000\)"),
    ],
    ids=["unknown-cipher", "port-out-of-range"],
)
def test_bad_settings_stop_before_sshd_is_touched(host, run_playbook, extra_vars, message):
    before = hashlib.sha256(host.file(DROPIN).content).hexdigest()
    pid = host.check_output("systemctl show -p MainPID --value ssh")
    rc, output = run_playbook(CONVERGE, limit=host.backend.get_hostname(), extra_vars=extra_vars)
    assert rc != 0
    # Matched across the line breaks the YAML callback may put into a long message.
    assert re.search(message, output), output[-3000:]
    assert hashlib.sha256(host.file(DROPIN).content).hexdigest() == before
    assert host.check_output("systemctl show -p MainPID --value ssh") == pid
    assert "changed=0" in output
