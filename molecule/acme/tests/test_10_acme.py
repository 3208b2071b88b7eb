"""The front servers with certificates from the scenario's ACME CA (pebble), checked as a browser would: the chain
served on 443 must verify against pebble's own root for each name. Renewal, names and failures are driven the way an
operator meets them: the timer's service, a changed inventory, a name without DNS, the CA down.

What acts on both sites at once (names, testssl) is test_20_both_sites.py; the CA down is test_90_ca_down.py.
"""

import json
from pathlib import Path

from acme_checks import serial, state
from webstack_testing import Load, acme_all_due, as_printed, dns_names, served_certificate

SUMMARY = Path(__file__).resolve().parents[3] / "playbooks" / "summary.yml"
CONFIG = "/etc/webstack/acme/webapp.json"
LOAD = ["--port=443", "--tls", "--requests=20000", "--seconds=120", "--concurrency=4", "--rate=150",
        "--at-least=300"]


def test_each_name_gets_a_chain_that_pebbles_root_verifies(address, root, site):
    for name in site["names"]:
        cert, status = served_certificate(address, name, root)
        assert dns_names(cert) == set(site["names"])
        assert "Pebble Intermediate CA" in cert.issuer.rfc4514_string()
        assert status == "HTTP/1.1 200 OK"


def test_the_keys_are_root_only_and_the_timer_is_on(host):
    key = host.file(json.loads(host.file(CONFIG).content_string)["key"])
    assert (key.user, key.mode) == ("root", 0o600)
    for path in ("/etc/letsencrypt/accounts", "/etc/letsencrypt/archive", "/etc/webstack/acme"):
        item = host.file(path)
        assert (item.user, item.mode) == ("root", 0o700), path
    assert host.service("webstack-acme.timer").is_enabled
    assert host.service("webstack-acme.timer").is_running
    # Debian's own timer would renew by days and outside the front server's paths.
    assert not host.service("certbot.timer").is_enabled


def test_the_timers_service_renews_a_due_certificate_under_load_without_a_failed_request(host, address, root, site):
    name = site["names"][0]
    before = serial(address, root, name)
    with acme_all_due(host):
        load = Load(host.backend.get_hostname(), *LOAD)
        renewal = host.run("systemctl start webstack-acme.service")
        result = load.stop()
    assert renewal.rc == 0, renewal.stderr + host.run("journalctl -u webstack-acme.service -n 20").stdout
    assert result["sent"] >= 300, "too little load to say anything"
    assert result["connection_errors"] == 0, result["first_errors"]
    assert result["non_2xx"] == 0, result["statuses"]
    after = serial(address, root, name)
    assert after != before
    assert state(host)["last_renewal"]["result"] == "renewed"
    # Back to the third: the fresh certificate is not due, the CA is not asked, nothing is reloaded.
    assert host.run("systemctl start webstack-acme.service").rc == 0
    assert serial(address, root, name) == after
    assert state(host)["result"] == "current"
    assert state(host)["last_renewal"]["result"] == "renewed"


def test_the_playbooks_summary_shows_the_certificate_and_its_last_renewal(host, run_playbook):
    name = host.backend.get_hostname()
    rc, output = run_playbook(SUMMARY, limit=name)
    assert rc == 0, output[-3000:]
    now = state(host)
    cert, last = now["certificate"], now["last_renewal"]
    summary = as_printed(output)
    assert (f"{name}: certificate webapp for {', '.join(cert['names'])}, serial {cert['serial']}, expires "
            f"{cert['not_after']}; last renewal {last['result'].upper()} at {last['time']}") in summary, output[-3000:]
