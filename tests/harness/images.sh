#!/usr/bin/env bash
# Build the systemd-capable Debian base images that every molecule scenario and the demo start from.
#
#   tests/harness/images.sh [12 13 ...]
#
# An image that already exists is kept while it was made by this recipe (this script, finish-rootfs.sh and the
# Dockerfile: their checksum is the image's pyops.webstack.recipe label); an older one is built again. Where
# `debian:<codename>` can be pulled from a registry, the image is built from tests/harness/Dockerfile;
# otherwise it is made with debootstrap from the Debian mirror this machine's apt sources name (read at
# run time, never written into the repository) and imported with `docker import`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PYOPS_IMAGE_PREFIX:-pyops-webstack/debian}
cache=${PYOPS_CACHE_DIR:-$here/../../.cache}
recipe=$(cat "$0" "$here/images/finish-rootfs.sh" "$here/images/Dockerfile" | sha256sum | cut -c1-16)
packages="systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps,acl,gnupg,curl"

codename_of() {
  case "$1" in
    12) echo bookworm ;;
    13) echo trixie ;;
    *) echo "unsupported Debian release: $1 (use 12 or 13)" >&2; return 1 ;;
  esac
}

build_from_registry() {
  local release=$1 codename=$2 image=$3
  timeout 60 docker pull -q "debian:$codename" >/dev/null 2>&1 || return 1
  echo "images: building $image from debian:$codename"
  docker build -q -t "$image" --build-arg "CODENAME=$codename" --label "pyops.webstack.recipe=$recipe" \
    "$here/images" >/dev/null
}

build_with_debootstrap() {
  local release=$1 codename=$2 image=$3
  local mirror security rootfs
  mirror=$("$here/apt_mirror.py" main)
  security=$("$here/apt_mirror.py" security)
  if [ -z "$mirror" ]; then
    echo "images: no Debian mirror found in /etc/apt/sources.list{,.d}; cannot debootstrap $image" >&2
    return 1
  fi
  command -v debootstrap >/dev/null || {
    echo "images: debootstrap is missing (apt-get install debootstrap)" >&2
    return 1
  }
  rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/pyops-rootfs-$codename.XXXXXX")
  trap 'rm -rf "$rootfs"' RETURN
  mkdir -p "$cache/debootstrap/$codename"
  echo "images: debootstrap $codename into $image (mirror from the host's apt sources)"
  debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/debootstrap/$codename" \
    "$codename" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    rm -f "$rootfs.log"
    return 1
  }
  rm -f "$rootfs.log"
  {
    echo "deb $mirror $codename main"
    echo "deb $mirror $codename-updates main"
    [ -n "$security" ] && echo "deb $security $codename-security main"
  } >"$rootfs/etc/apt/sources.list"
  "$here/images/finish-rootfs.sh" "$rootfs"
  tar -C "$rootfs" -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    --change "LABEL pyops.webstack.recipe=$recipe" \
    --message "pyops.webstack test base, Debian $release ($codename)" \
    - "$image" >/dev/null
}

releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(12 13)
pids=()
for release in "${releases[@]}"; do
  codename=$(codename_of "$release")
  image="$prefix:$release"
  made_by=$(docker image inspect --format '{{ index .Config.Labels "pyops.webstack.recipe" }}' "$image" 2>/dev/null) ||
    made_by=absent
  if [ "$made_by" = "$recipe" ]; then
    echo "images: $image is present"
    continue
  fi
  [ "$made_by" = absent ] || echo "images: $image was made by another recipe; building it again"
  ( build_from_registry "$release" "$codename" "$image" || build_with_debootstrap "$release" "$codename" "$image" ) &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
