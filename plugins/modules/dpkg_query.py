#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of some Debian packages dpkg has installed, read without opening apt's cache."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dpkg_query
short_description: Tell which of some Debian packages are installed, without opening apt's cache
description:
  - Asks C(dpkg-query) for the status and version of the packages named, and returns which are missing (to be
    installed) and which dpkg still knows (to be removed or purged).
  - It changes nothing. The roles of this collection call it before M(ansible.builtin.apt) and skip that task
    when there is nothing to do; opening apt's cache costs about half a second on every run, this about a
    hundredth.
version_added: 0.1.0
options:
  name:
    description:
      - Package names, each optionally C(name=version) as M(ansible.builtin.apt) takes them (the version may end
        in C(*)). A package with a version counts as missing unless the installed version matches it.
    type: list
    elements: str
    required: true
author:
  - pyops.webstack developers (@pyops-webstack)
"""

EXAMPLES = r"""
- name: Find which of nginx's packages are missing
  pyops.webstack.dpkg_query:
    name: [nginx, openssl]
  register: nginx_packages

- name: Install nginx
  ansible.builtin.apt:
    name: [nginx, openssl]
    state: present
  when: nginx_packages.missing | length > 0
"""

RETURN = r"""
missing:
  description: The names given (as given) that are not installed, or not at the version given.
  returned: always
  type: list
  elements: str
  sample: ["nginx"]
present:
  description: The names given (as given) that dpkg knows in any state but not-installed (installed, half
    installed, or removed with its configuration files left).
  returned: always
  type: list
  elements: str
installed:
  description: The installed version of each package given that is installed.
  returned: always
  type: dict
  sample: {"openssl": "3.0.17-1~deb12u2"}
"""

import fnmatch

from ansible.module_utils.basic import AnsibleModule

FORMAT = "${Package}\t${Version}\t${db:Status-Abbrev}\n"


def parse(output):
    """dpkg-query's lines (package, version, status abbreviation) as {package: (version, status)}. The status
    abbreviation is three letters: wanted, current state, error; `ii ` is installed, `rc ` is removed with its
    configuration files left, `un ` is not installed."""
    packages = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0]:
            packages[fields[0]] = (fields[1], fields[2].strip())
    return packages


def package_of(name):
    """The package a name given as apt takes it stands for: without its =version and architecture qualifier
    (libc6:amd64 names the same package as libc6)."""
    return name.partition("=")[0].split(":", 1)[0]


def compare(names, packages):
    """missing, present and installed for the names given, from parse()'s result."""
    missing, present, installed = [], [], {}
    for name in names:
        package, version = package_of(name), name.partition("=")[2]
        known_version, status = packages.get(package, ("", "un"))
        # The second letter is the current state: i installed, c config-files, n not-installed, and so on.
        state = status[1:2]
        if state == "i":
            installed[package] = known_version
        if state not in ("", "n"):
            present.append(name)
        if state != "i" or status[2:3].strip() or (version and not fnmatch.fnmatchcase(known_version, version)):
            missing.append(name)
    return missing, present, installed


def main():
    module = AnsibleModule(argument_spec={"name": {"type": "list", "elements": "str", "required": True}},
                           supports_check_mode=True)
    names = module.params["name"]
    if not names:  # dpkg-query with no name would list every package
        module.exit_json(changed=False, missing=[], present=[], installed={})
    packages = sorted({package_of(name) for name in names})
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    # dpkg-query exits 1 when it knows none of some names, and still prints the ones it knows.
    rc, out, err = module.run_command([dpkg_query, "--show", "--showformat", FORMAT, *packages])
    if rc not in (0, 1):
        module.fail_json(msg=f"dpkg-query failed: {err.strip()}", rc=rc)
    missing, present, installed = compare(names, parse(out))
    module.exit_json(changed=False, missing=missing, present=present, installed=installed)


if __name__ == "__main__":
    main()
