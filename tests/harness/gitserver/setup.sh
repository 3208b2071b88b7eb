#!/bin/sh
# Runs inside a fresh Debian 12 base container; the result is committed as the git server image.
# Serves bare repositories under /srv/git two ways: git over SSH as user `git` (git-shell, keys only),
# and read-only `git daemon` on port 9418. It is also the scenarios' ACME CA: Debian's pebble (Let's Encrypt's
# RFC 8555 test server) with its directory at https://acme:14000/dir, its management API (roots) on 15000, and
# HTTP-01 validation on port 80 of the names, as a real CA does. testssl.sh scans the sites from here, as a client.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openssh-server git pebble openssl testssl.sh >/dev/null
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
# pebble's own TLS certificate (its directory's, for the name `acme`) is made per container at first boot, never
# baked into the image; the scenarios hand it to the hosts as the private CA bundle.
install -d -m 0755 /etc/pebble
cat >/etc/pebble/pebble.json <<'CFG'
{
  "pebble": {
    "listenAddress": "0.0.0.0:14000",
    "managementListenAddress": "0.0.0.0:15000",
    "certificate": "/etc/pebble/tls/cert.pem",
    "privateKey": "/etc/pebble/tls/key.pem",
    "httpPort": 80,
    "tlsPort": 5001,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false,
    "certificateValidityPeriod": 3600
  }
}
CFG
cat >/etc/systemd/system/pebble-tls.service <<'UNIT'
[Unit]
Description=Make pebble's own TLS certificate
ConditionPathExists=!/etc/pebble/tls/cert.pem

[Service]
Type=oneshot
ExecStart=/bin/mkdir -p /etc/pebble/tls
ExecStart=/usr/bin/openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=acme \
  -addext subjectAltName=DNS:acme,DNS:localhost -keyout /etc/pebble/tls/key.pem -out /etc/pebble/tls/cert.pem
UNIT
cat >/etc/systemd/system/pebble.service <<'UNIT'
[Unit]
Description=pebble, the ACME test CA
Requires=pebble-tls.service
After=pebble-tls.service network.target

[Service]
# No sleep between validation attempts; no nonces rejected at random (pebble's default tests clients with 5%).
Environment=PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0
ExecStart=/usr/bin/pebble -config /etc/pebble/pebble.json
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/pebble.service /etc/systemd/system/multi-user.target.wants/pebble.service
apt-get clean
rm -rf /var/lib/apt/lists/*
