#!/usr/bin/env bash
# Build the git server image the scenarios clone the reference app from (kept once built).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${PYOPS_IMAGE_PREFIX:-pyops-webstack/debian}:12
image=${PYOPS_GITSERVER_IMAGE:-pyops-webstack/gitserver:latest}
# An image made by an older setup.sh is built again (its checksum is the image's pyops.webstack.recipe label).
recipe=$(cat "$0" "$here/gitserver/setup.sh" | sha256sum | cut -c1-16)
if [ "$(docker image inspect --format '{{ index .Config.Labels "pyops.webstack.recipe" }}' "$image" 2>/dev/null)" \
  = "$recipe" ]; then
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
docker commit --change 'CMD ["/lib/systemd/systemd"]' --change "LABEL pyops.webstack.recipe=$recipe" "$name" \
  "$image" >/dev/null
