#!/bin/sh
# Runs inside a fresh Debian 12 base container; the result is committed as the git server image.
# Serves bare repositories under /srv/git two ways: git over SSH as user `git` (git-shell, keys only),
# and read-only `git daemon` on port 9418.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openssh-server git >/dev/null
useradd --system --home-dir /srv/git --shell /usr/bin/git-shell --create-home git
install -d -o git -g git -m 0700 /srv/git/.ssh
install -o git -g git -m 0600 /dev/null /srv/git/.ssh/authorized_keys
cat >/etc/ssh/sshd_config.d/10-gitserver.conf <<'CFG'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers git
CFG
cat >/etc/systemd/system/git-daemon.service <<'UNIT'
[Unit]
Description=Read-only git daemon for the test repositories
After=network.target

[Service]
User=git
ExecStart=/usr/bin/git daemon --reuseaddr --export-all --base-path=/srv/git /srv/git
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable git-daemon.service ssh.service >/dev/null 2>&1 || {
  ln -sf /etc/systemd/system/git-daemon.service /etc/systemd/system/multi-user.target.wants/git-daemon.service
}
# Host keys are made per container at first boot, never baked into the image.
rm -f /etc/ssh/ssh_host_*
cat >/etc/systemd/system/ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/ssh-host-keys.service /etc/systemd/system/multi-user.target.wants/ssh-host-keys.service
apt-get clean
rm -rf /var/lib/apt/lists/*
