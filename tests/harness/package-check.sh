#!/usr/bin/env bash
# Build the collection, install the tarball into a clean folder outside the checkout, and use it the way
# a user would: `ansible-doc -t role pyops.webstack.deploy_user`, then `pyops.webstack.check` and
# `pyops.webstack.site` (its deploy_user part) with a copy of inventories/demo against a throwaway Debian 12
# container. Nothing from the checkout is on the collection path.
set -euo pipefail
repo=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pyops-package.XXXXXX")
container=pyops-package-check-$$
cleanup() {
  docker rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "package: building the collection"
ansible-galaxy collection build --force --output-path "$work/dist" "$repo" >/dev/null
tarball=$(ls "$work"/dist/pyops-webstack-*.tar.gz)

echo "package: checking that no development files ship"
shipped=$(tar -tzf "$tarball")
leaked=$(grep -E '^(\./)?(tests|molecule|\.venv|\.cache|\.ci|\.config|\.git|bench)(/|$)' <<<"$shipped" || true)
if [ -n "$leaked" ]; then
  echo "package: these must not ship (galaxy.yml build_ignore):" >&2
  echo "$leaked" | head -20 >&2
  exit 1
fi
for needed in MANIFEST.json FILES.json meta/runtime.yml playbooks/site.yml roles/deploy_user/meta/argument_specs.yml; do
  grep -qxE "(\./)?$needed" <<<"$shipped" || { echo "package: $needed is missing from the tarball" >&2; exit 1; }
done

echo "package: installing the tarball into a clean folder"
# Only the clean folder is on the collection path from here on (plus the `ansible` package's own
# collections, which bring the dependencies: Galaxy may be out of reach, hence --no-deps).
cd "$work"
unset ANSIBLE_CONFIG
export ANSIBLE_COLLECTIONS_PATH=$work/collections
export ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_NOCOLOR=1
ansible-galaxy collection install --force --no-deps -p "$work/collections" "$tarball" >/dev/null
test -f "$work/collections/ansible_collections/pyops/webstack/MANIFEST.json" || {
  echo "package: the tarball did not install" >&2
  exit 1
}

echo "package: ansible-doc -t role pyops.webstack.deploy_user"
doc=$(ansible-doc -t role pyops.webstack.deploy_user)
for option in deploy_user_name deploy_user_authorized_keys deploy_user_sudo_programs; do
  grep -q "$option" <<<"$doc" || { echo "package: ansible-doc does not document $option" >&2; exit 1; }
done
found=$(ansible-doc -t role -l pyops.webstack 2>/dev/null | grep -c 'pyops.webstack.deploy_user' || true)
[ "$found" -ge 1 ] || { echo "package: the installed collection does not list its roles" >&2; exit 1; }

echo "package: the demo inventory, copied outside the checkout, against a fresh container"
# shellcheck disable=SC2046  # word splitting of the printed arguments is wanted
docker run -d --name "$container" $(python3 "$repo/tests/harness/container_args.py" debian12) >/dev/null
"$repo/tests/harness/wait-booted.sh" "$container"
cp -r "$repo/inventories/demo" "$work/inventory"
sed -i "s/^\( *\)demo-web:$/\1$container:/" "$work/inventory/hosts.yml"
# What the harness would record for the demo: a git URL, a deploy key, the git server's host key.
mkdir "$work/harness"
ssh-keygen -q -t ed25519 -N '' -C package-check -f "$work/harness/deploy_key"
cat >"$work/harness/harness.yml" <<YAML
harness_git_ssh_url: git@gitserver:webapp.git
harness_git_known_hosts: "gitserver $(cut -d' ' -f1,2 "$work/harness/deploy_key.pub")"
harness_deploy_key: $work/harness/deploy_key
YAML
export MOLECULE_EPHEMERAL_DIRECTORY=$work/harness

echo "package: ansible-playbook pyops.webstack.check passes and changes nothing"
ansible-playbook pyops.webstack.check -i "$work/inventory" >"$work/check.log" 2>&1 || {
  cat "$work/check.log" >&2
  exit 1
}
grep -q "All 1 hosts answered and passed their checks" "$work/check.log" || {
  cat "$work/check.log" >&2
  echo "package: check.yml did not say that the host passed" >&2
  exit 1
}
grep -qE "changed=[1-9]" "$work/check.log" && { echo "package: check.yml changed something" >&2; exit 1; }
if docker exec "$container" id deploy >/dev/null 2>&1; then
  echo "package: check.yml created the deploy user" >&2
  exit 1
fi

echo "package: pyops.webstack.check names a program that holds a port the estate needs"
docker exec -d "$container" python3 -m http.server --bind 0.0.0.0 80
for _ in $(seq 50); do docker exec "$container" ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.2; done
if ansible-playbook pyops.webstack.check -i "$work/inventory" >"$work/check-port.log" 2>&1; then
  echo "package: check.yml did not see the program on port 80" >&2
  exit 1
fi
grep -q "port 80 is held by python3" "$work/check-port.log" || { cat "$work/check-port.log" >&2; exit 1; }
docker exec "$container" pkill -f http.server

echo "package: pyops.webstack.check refuses an inventory without web hosts, before touching any host"
sed -i "s/^    web:$/    front:/" "$work/inventory/hosts.yml"
if ansible-playbook pyops.webstack.check -i "$work/inventory" >"$work/check-bad.log" 2>&1; then
  echo "package: check.yml accepted an estate without web hosts" >&2
  exit 1
fi
grep -q "group web has no host" "$work/check-bad.log" || { cat "$work/check-bad.log" >&2; exit 1; }
grep -q "Learn every host's address" "$work/check-bad.log" && { echo "package: check.yml went on" >&2; exit 1; }
sed -i "s/^    front:$/    web:/" "$work/inventory/hosts.yml"

echo "package: ansible-playbook pyops.webstack.site --tags deploy_user with that inventory"
ansible-playbook pyops.webstack.site -i "$work/inventory" --tags deploy_user >"$work/site.log" 2>&1 || {
  cat "$work/site.log" >&2
  exit 1
}
grep -q "pyops.webstack.deploy_user" "$work/site.log" || { echo "package: the role did not run" >&2; exit 1; }
docker exec "$container" id deploy >/dev/null
docker exec "$container" visudo -cf /etc/sudoers.d/50-pyops-deploy >/dev/null
echo "package: the installed collection checked the demo inventory and ran pyops.webstack.site (deploy user)"
