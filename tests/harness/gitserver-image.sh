#!/usr/bin/env bash
# Build the git server image the scenarios clone the reference app from (kept once built).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${PYOPS_IMAGE_PREFIX:-pyops-webstack/debian}:12
image=${PYOPS_GITSERVER_IMAGE:-pyops-webstack/gitserver:latest}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "images: $image is present"
  exit 0
fi
echo "images: building $image from $base"
name=pyops-gitserver-build-$$
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$name" "$base" sleep infinity >/dev/null
docker cp "$here/gitserver/setup.sh" "$name:/tmp/setup.sh"
docker exec "$name" sh /tmp/setup.sh
docker exec "$name" rm -f /tmp/setup.sh
docker commit --change 'CMD ["/lib/systemd/systemd"]' "$name" "$image" >/dev/null
