#!/bin/sh
# Make a Debian root file system boot systemd as PID 1 inside a container.
# Used by both build paths: images.sh (debootstrap) and the Dockerfile (pulled debian image).
set -eu
root=${1:-/}

# A fresh machine-id is made at first boot, as on a real server.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# Units that only make sense on real hardware or a console.
for unit in systemd-udevd.service systemd-udev-trigger.service systemd-udevd-control.socket \
  systemd-udevd-kernel.socket getty.target console-getty.service systemd-firstboot.service \
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount dev-hugepages.mount \
  systemd-remount-fs.service systemd-modules-load.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

# dpkg skips its fsync calls, as Docker's own Debian images used to (docker-apt-speedup): a test container is
# thrown away, never recovered after a power cut, and its package installs take about a quarter less time.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"

# No docs or man pages in test images; apt behaves as on a stock server otherwise.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-pyops-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
CFG
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/usr/share/man/"* "$root/usr/share/info/"*
