"""hardening: fail2ban bans an address that keeps failing to log in (runs last: it bans this machine for a while)."""

import socket
import subprocess
import time

import pytest

from webstack_testing import openssh


def banned(host):
    return host.check_output("fail2ban-client get sshd banned").strip("[]' \n")


def test_repeated_failed_logins_get_the_address_banned(host, address, harness):
    host.run_expect([0], "fail2ban-client unban --all")
    # Not banned yet: the deploy user's key gets in.
    assert openssh(address, "deploy", key_file=harness["harness_login_key"]).stdout.strip() == "deploy"
    maxretry = int(host.check_output("fail2ban-client get sshd maxretry"))
    try:
        for attempt in range(maxretry + 1):
            if banned(host):
                break
            # A user that does not exist, with a key: refused, and logged by sshd as an invalid user. A ban that
            # lands during the handshake leaves the client waiting: that attempt is cut short.
            try:
                result = openssh(address, f"intruder{attempt}", key_file=harness["harness_login_key"], timeout=15)
                assert result.returncode == 255
            except subprocess.TimeoutExpired:
                pass
        # fail2ban reads the journal on its own schedule: give it a bounded while to act.
        for _ in range(60):
            if banned(host):
                break
            time.sleep(1)
        print(f"fail2ban banned: {banned(host)}")
        assert banned(host), host.check_output("fail2ban-client status sshd")
        assert "f2b-table" in host.check_output("nft list tables")
        # The ban is effective: this machine can no longer open a connection to sshd.
        with pytest.raises(OSError):
            socket.create_connection((address, 22), timeout=5).close()
    finally:
        host.run_expect([0], "fail2ban-client unban --all")
    assert openssh(address, "deploy", key_file=harness["harness_login_key"]).stdout.strip() == "deploy"
