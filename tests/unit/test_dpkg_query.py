"""plugins/modules/dpkg_query.py: what it makes of dpkg-query's answer, against lines as dpkg-query prints them."""

import importlib.util
import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

SPEC = importlib.util.spec_from_file_location("dpkg_query", ROOT / "plugins" / "modules" / "dpkg_query.py")
dpkg_query = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(dpkg_query)

# As `dpkg-query --show --showformat '${Package}\t${Version}\t${db:Status-Abbrev}\n'` prints them: the status
# abbreviation ends with a space when the package has no error flag.
OUTPUT = (
    "nginx\t1.22.1-9+deb12u2\tii \n"
    "telnet\t\trc \n"
    "rsh-client\t\tun \n"
    "openssl\t3.0.17-1~deb12u2\tiiR\n"
    "rabbitmq-server\t3.10.8-1.1\thi \n"
    "supervisor\t4.2.5-1\tiU \n"
)


def test_installed_packages_are_not_missing_and_others_are():
    missing, present, installed = dpkg_query.compare(
        ["nginx", "telnet", "rsh-client", "git", "supervisor"], dpkg_query.parse(OUTPUT))
    # telnet's configuration is left (rc), rsh-client is known not installed, git unknown, supervisor unpacked only.
    assert missing == ["telnet", "rsh-client", "git", "supervisor"]
    assert present == ["nginx", "telnet", "supervisor"]
    assert installed == {"nginx": "1.22.1-9+deb12u2"}  # iU (unpacked, not configured) is not installed


def test_a_package_that_needs_reinstalling_is_missing():
    missing, _, _ = dpkg_query.compare(["openssl"], dpkg_query.parse(OUTPUT))
    assert missing == ["openssl"]


def test_a_held_package_counts_by_its_version_as_apt_names_it():
    packages = dpkg_query.parse(OUTPUT)
    assert dpkg_query.compare(["rabbitmq-server=3.10.8-1.1"], packages)[0] == []
    assert dpkg_query.compare(["rabbitmq-server=3.10*"], packages)[0] == []
    assert dpkg_query.compare(["rabbitmq-server=3.12.1-1"], packages)[0] == ["rabbitmq-server=3.12.1-1"]
    assert dpkg_query.compare(["nginx:amd64"], packages)[0] == []


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs Debian's dpkg-query")
def test_the_module_asks_this_machine_dpkg(tmp_path):
    # Run as ansible runs a module: its arguments as JSON on stdin. dpkg (essential on Debian) is installed here.
    args = json.dumps({"ANSIBLE_MODULE_ARGS": {"name": ["dpkg", "pyops-no-such-package"]}})
    result = subprocess.run([sys.executable, str(ROOT / "plugins" / "modules" / "dpkg_query.py")], input=args,
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    answer = json.loads(result.stdout)
    assert answer["changed"] is False
    assert answer["missing"] == ["pyops-no-such-package"]
    assert answer["present"] == ["dpkg"]
    assert answer["installed"]["dpkg"] == subprocess.run(
        ["dpkg-query", "--show", "--showformat", "${Version}", "dpkg"], capture_output=True, text=True,
        check=True).stdout
