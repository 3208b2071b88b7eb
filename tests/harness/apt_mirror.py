#!/usr/bin/env python3
"""Print the Debian mirror this machine's apt sources use, so no mirror host is ever written down.

    tests/harness/apt_mirror.py main       # the archive, e.g. for debootstrap
    tests/harness/apt_mirror.py security   # the security archive, or nothing
"""

import glob
import sys


def deb822_entries(text):
    """(uri, suites) of every enabled `Types: deb` stanza of a .sources file."""
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if fields.get("enabled", ["yes"])[0].lower() == "no" or "deb" not in fields.get("types", []):
            continue
        for uri in fields.get("uris", []):
            yield uri, fields.get("suites", [])


def one_line_entries(text):
    """(uri, [suite]) of every `deb` line of a sources.list file."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "deb":
            if len(words) > 1 and words[1].startswith("["):
                # Options: "[arch=amd64 signed-by=...]" may span several words.
                while words and not words[1].endswith("]"):
                    words.pop(1)
                words.pop(1)
            if len(words) >= 3:
                yield words[1], [words[2]]


def pick(entries, kind):
    for uri, suites in entries:
        security = any(s.endswith("-security") or s.endswith("/updates") for s in suites)
        debian = uri.rstrip("/").endswith(("/debian", "/debian-security"))
        if debian and security == (kind == "security"):
            return uri.rstrip("/")
    return None


def host_entries(root="/etc/apt"):
    for path in sorted(glob.glob(f"{root}/sources.list.d/*.sources")):
        with open(path, encoding="utf-8") as handle:
            yield from deb822_entries(handle.read())
    for path in [f"{root}/sources.list"] + sorted(glob.glob(f"{root}/sources.list.d/*.list")):
        try:
            with open(path, encoding="utf-8") as handle:
                yield from one_line_entries(handle.read())
        except OSError:
            continue


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("main", "security"):
        sys.exit(__doc__)
    found = pick(host_entries(), sys.argv[1])
    if found:
        print(found)
