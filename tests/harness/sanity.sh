#!/usr/bin/env bash
# ansible-test sanity on the collection's plugins as they are in this checkout: tests/harness/sanity.sh [TEST...]
# (the roles' files and the tests are Ansible content and test code that ansible-lint, yamllint and pytest check).
# ansible-test wants the collection under ansible_collections/<namespace>/<name>, its files known to git: the
# checkout's tracked and new files, changes included, are copied to .cache/sanity. The virtualenvs ansible-test
# makes get pip from get-pip-standin.py, since the download host of pip's get-pip.py is out of reach here.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
copy=$here/${PYOPS_CACHE_DIR:-.cache}/sanity/ansible_collections/pyops/webstack
python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')

rm -rf "$copy"
mkdir -p "$copy"
(cd "$here" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -e "$file" ] && printf '%s\0' "$file"
done | xargs -0 cp --parents -t "$copy")
git -C "$copy" init --quiet
# What ansible-test makes there is no part of the collection.
echo tests/output/ >>"$copy/.git/info/exclude"
git -C "$copy" add --all

# ansible-test looks for the script under a name carrying the pip version it bootstraps (get_pip_24_2.py).
pip_version=$(python3 -c "
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version='$python'))['pip'])")
mkdir -p ~/.ansible/test/cache
cp "$here/tests/harness/get-pip-standin.py" ~/.ansible/test/cache/get_pip_"${pip_version//./_}".py

cd "$copy"
tests=()
for test in "$@"; do tests+=(--test "$test"); done
ansible-test sanity --python "$python" --venv --requirements "${tests[@]}" plugins/
