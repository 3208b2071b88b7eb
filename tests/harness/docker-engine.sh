#!/usr/bin/env bash
# Make sure a Docker engine answers. As root on Debian, install docker.io (and debootstrap, which the
# image build needs) and start dockerd in the background; anywhere else, say what to install.
set -euo pipefail
log=${PYOPS_CACHE_DIR:-.cache}/dockerd.log

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  cat >&2 <<'MSG'
No Docker engine answers `docker info`.
Install and start Docker (on Debian: `apt-get install docker.io debootstrap` as root), make sure your
user may talk to it, then run make again. Running make as root on Debian does this for you.
MSG
  exit 1
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "engine: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "engine: starting dockerd in the background (log: $log)"
  mkdir -p "$(dirname "$log")"
  # In a session of its own: a make ended by a signal (Ctrl-C, CI's time limit) must not take the engine down
  # with its process group.
  setsid nohup dockerd >"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "engine: dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
