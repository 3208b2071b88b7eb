"""What an operator changes in the inventory, and testssl.sh, on both sites at once: one run of the front servers'
roles over both hosts (each reads only its own variable) costs less than two runs. A name without DNS stops
the run before the CA is asked; a name added gets a certificate and a name removed is dropped; testssl.sh finds
nothing wrong."""

import re
import subprocess
from pathlib import Path

import pytest
from acme_checks import SITES, serial, state
from estate import get_host
from webstack_testing import dns_names, served_certificate

CONVERGE = Path(__file__).resolve().parents[2] / "shared" / "converge-proxy.yml"
# What testssl.sh (3.0, Debian 12) marks "NOT ok" here on purpose: Mozilla's intermediate profile leaves the choice
# among its strong ciphers to the client; pebble's certificates name neither a CRL nor an OCSP responder.
TESTSSL_KNOWN = ["Has server cipher order?     no (NOT ok)", "NOT ok -- neither CRL nor OCSP URI provided"]


@pytest.fixture(scope="module")
def hosts(inventory):
    return {name: get_host(inventory, name) for name in SITES}


def both_sites(run_playbook, extra=None):
    """converge-proxy.yml's front server roles on both hosts, with a name more (or less) on each site."""
    return run_playbook(CONVERGE, tags=",".join(site["proxy"] for site in SITES.values()),
                        extra_vars={site["variable"]: site["names"] + extra(site) for site in SITES.values()}
                        if extra else None)


def test_a_name_that_does_not_resolve_stops_each_run_before_the_ca_and_the_old_certificates_stay(
        run_playbook, harness, root, hosts):
    addresses = harness["harness_addresses"]
    before = {name: serial(addresses[name], root, site["names"][0]) for name, site in SITES.items()}
    rc, output = both_sites(run_playbook, lambda site: ["nowhere.webstack.test"])
    assert rc != 0
    # Each host stops on its own, saying why.
    assert all(f"fatal: [{name}]" in output for name in SITES), output[-3000:]
    assert output.count("names that do not resolve: nowhere.webstack.test") >= len(SITES), output[-3000:]
    assert "the CA was not asked" in output
    for name, site in SITES.items():
        assert serial(addresses[name], root, site["names"][0]) == before[name], name
        assert state(hosts[name])["last_renewal"]["result"] == "failed", name


def test_a_name_added_gets_a_certificate_and_a_name_removed_is_dropped(run_playbook, harness, root):
    addresses = harness["harness_addresses"]
    rc, output = both_sites(run_playbook, lambda site: [site["more"]])
    assert rc == 0, output[-3000:]
    for name, site in SITES.items():
        cert, status = served_certificate(addresses[name], site["more"], root)
        assert dns_names(cert) == set(site["names"]) | {site["more"]} and status == "HTTP/1.1 200 OK", name
    rc, output = both_sites(run_playbook)
    assert rc == 0, output[-3000:]
    for name, site in SITES.items():
        assert dns_names(served_certificate(addresses[name], site["names"][0], root)[0]) == set(site["names"])
    rc, output = both_sites(run_playbook)
    assert rc == 0, output[-3000:]
    for name in SITES:
        assert re.search(rf"^{name}\s+: ok=\d+\s+changed=0\s", output, re.MULTILINE), output[-3000:]


def test_testssl_finds_nothing_not_ok_and_no_compression_for_breach(harness, root):
    """testssl.sh on both sites side by side, from the CA's container (a client on the network), trusting pebble's
    root."""
    container = harness["harness_git_container"]
    subprocess.run(["docker", "exec", "-i", container, "sh", "-c", "cat > /tmp/pebble-root.pem"], input=root,
                   text=True, check=True)
    scans = {site["names"][0]: subprocess.Popen(
        ["docker", "exec", container, "testssl", "--quiet", "--color", "0", "--warnings", "batch", "--add-ca",
         "/tmp/pebble-root.pem", "--ip", "one", f"https://{site['names'][0]}/"],
        stdout=subprocess.PIPE, text=True) for site in SITES.values()}
    for name, scan in scans.items():
        out = scan.communicate(timeout=600)[0]
        assert "Chain of trust               Ok" in out, (name, out)
        assert re.search(r"BREACH \(CVE-2013-3587\) +no HTTP compression \(OK\)", out), (name, out)
        flagged = [line.strip() for line in out.splitlines()
                   if ("NOT ok" in line or "VULNERABLE" in line) and not any(known in line for known in TESTSSL_KNOWN)]
        assert flagged == [], (name, out)
