#!/usr/bin/env bash
# Wait until systemd inside each named container has finished booting (at most 60 s each).
set -euo pipefail
for container in "$@"; do
  for _ in $(seq 1 60); do
    state=$(docker exec "$container" systemctl is-system-running 2>/dev/null || true)
    case "$state" in
      running | degraded) continue 2 ;;
    esac
    sleep 1
  done
  echo "wait-booted: $container did not finish booting (state: ${state:-unknown})" >&2
  exit 1
done
