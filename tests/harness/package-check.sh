#!/usr/bin/env bash
# Build the collection, install the tarball into a clean folder outside the checkout, and use it the way
# a user would: `ansible-doc -t role pyops.webstack.deploy_user` and `ansible-playbook pyops.webstack.site`
# against a throwaway Debian 12 container. Nothing from the checkout is on the collection path.
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

echo "package: ansible-playbook pyops.webstack.site against a fresh container"
# shellcheck disable=SC2046  # word splitting of the printed arguments is wanted
docker run -d --name "$container" $(python3 "$repo/tests/harness/container_args.py" debian12) >/dev/null
"$repo/tests/harness/wait-booted.sh" "$container"
printf '%s ansible_connection=community.docker.docker\n' "$container" >"$work/inventory"
ansible-playbook pyops.webstack.site -i "$work/inventory" \
  -e '{"deploy_user_sudo_programs": ["webapp"]}' >"$work/site.log" 2>&1 || {
  cat "$work/site.log" >&2
  exit 1
}
grep -q "pyops.webstack.deploy_user" "$work/site.log" || { echo "package: the role did not run" >&2; exit 1; }
docker exec "$container" id deploy >/dev/null
docker exec "$container" visudo -cf /etc/sudoers.d/50-pyops-deploy >/dev/null
echo "package: the installed collection ran pyops.webstack.site and made the deploy user"
