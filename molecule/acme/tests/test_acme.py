"""nginx with a certificate from the scenario's ACME CA (pebble), checked as a browser would: the chain served on 443
must verify against pebble's own root, for each name. Renewal, names and failures are driven the way an operator
would meet them: the timer's service, a changed inventory, a name without DNS, the CA down.

The last test stops pebble, which forgets its roots and accounts: it stays last.
"""

import json
import re
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from webstack_testing import Load

NAMES = ["shop.webstack.test", "www.shop.webstack.test"]
CONVERGE = Path(__file__).resolve().parents[2] / "proxy_nginx" / "converge.yml"
CONFIG = "/etc/webstack/acme/webapp.json"
LOAD = ["--port=443", "--tls", "--requests=20000", "--seconds=120", "--concurrency=4", "--rate=150",
        "--at-least=300"]


@pytest.fixture()
def root(host):
    """pebble's root certificate from its management API (asked from the host, which trusts pebble's own TLS)."""
    return host.check_output("curl -sf --cacert /etc/webstack/acme/webapp.ca.pem https://acme:15000/roots/0")


def served(address, name, root):
    """The certificate served on 443 for `name` (SNI), verified against `root` with the name checked, and the
    status line of /healthz asked over the same connection."""
    context = ssl.create_default_context(cadata=root)
    with socket.create_connection((address, 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET /healthz HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            status = tls.recv(4096).split(b"\r\n", 1)[0].decode()
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)), status


def serial(address, root, name=NAMES[0]):
    return served(address, name, root)[0].serial_number


def names_of(cert):
    return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
               .get_values_for_type(x509.DNSName))


def set_renew_remaining(host, fraction):
    """Change the renewal threshold in the certificate's description, as an operator would for an early renewal."""
    config = json.loads(host.file(CONFIG).content_string)
    config["renew_remaining"] = fraction
    host.check_output(f"printf '%s' {json.dumps(json.dumps(config))} > {CONFIG}")


def state(host):
    return json.loads(host.run("webstack-acme status --json").stdout)[0]  # exit 1 while the last try failed


def test_each_name_gets_a_chain_that_pebbles_root_verifies(address, root):
    for name in NAMES:
        cert, status = served(address, name, root)
        assert names_of(cert) == set(NAMES)
        assert "Pebble Intermediate CA" in cert.issuer.rfc4514_string()
        assert status == "HTTP/1.1 200 OK"


def test_the_keys_are_root_only_and_the_timer_is_on(host):
    for path, mode in [("/etc/ssl/webstack/webapp.key", 0o600), ("/etc/letsencrypt/accounts", 0o700),
                       ("/etc/letsencrypt/archive", 0o700), ("/etc/webstack/acme", 0o700)]:
        item = host.file(path)
        assert (item.user, item.mode) == ("root", mode), path
    assert host.service("webstack-acme.timer").is_enabled
    assert host.service("webstack-acme.timer").is_running
    # Debian's own timer would renew by days and outside the front server's paths.
    assert not host.service("certbot.timer").is_enabled


def test_the_timers_service_renews_a_due_certificate_under_load_without_a_failed_request(host, address, root):
    before = serial(address, root)
    set_renew_remaining(host, 1.0)  # every certificate is due
    try:
        load = Load(host.backend.get_hostname(), *LOAD)
        renewal = host.run("systemctl start webstack-acme.service")
        result = load.stop()
    finally:
        set_renew_remaining(host, 0.33)
    assert renewal.rc == 0, renewal.stderr + host.run("journalctl -u webstack-acme.service -n 20").stdout
    assert result["sent"] >= 300, "too little load to say anything"
    assert result["connection_errors"] == 0, result["first_errors"]
    assert result["non_2xx"] == 0, result["statuses"]
    after = serial(address, root)
    assert after != before
    assert state(host)["last_renewal"]["result"] == "renewed"
    # Back to the third: the fresh certificate is not due, the CA is not asked, nothing is reloaded.
    assert host.run("systemctl start webstack-acme.service").rc == 0
    assert serial(address, root) == after
    assert state(host)["result"] == "current"
    assert state(host)["last_renewal"]["result"] == "renewed"


def test_a_name_that_does_not_resolve_stops_the_run_before_the_ca_and_the_old_certificate_stays(
        host, run_playbook, address, root):
    before = serial(address, root)
    rc, output = run_playbook(CONVERGE, tags="nginx",
                              extra_vars={"nginx_server_names": NAMES + ["nowhere.webstack.test"]})
    assert rc != 0
    assert "names that do not resolve: nowhere.webstack.test" in output, output[-3000:]
    assert "the CA was not asked" in output
    assert serial(address, root) == before
    assert state(host)["last_renewal"]["result"] == "failed"


def test_a_name_added_gets_a_certificate_and_a_name_removed_is_dropped(host, run_playbook, address, root):
    name = host.backend.get_hostname()
    rc, output = run_playbook(CONVERGE, tags="nginx",
                              extra_vars={"nginx_server_names": NAMES + ["api.shop.webstack.test"]})
    assert rc == 0, output[-3000:]
    cert, status = served(address, "api.shop.webstack.test", root)
    assert names_of(cert) == set(NAMES) | {"api.shop.webstack.test"} and status == "HTTP/1.1 200 OK"
    rc, output = run_playbook(CONVERGE, tags="nginx")
    assert rc == 0, output[-3000:]
    assert names_of(served(address, NAMES[0], root)[0]) == set(NAMES)
    rc, output = run_playbook(CONVERGE, tags="nginx")
    assert rc == 0, output[-3000:]
    assert re.search(rf"^{name}\s+: ok=\d+\s+changed=0\s", output, re.MULTILINE), output[-3000:]


def test_the_ca_down_during_a_renewal_keeps_the_old_certificate_serving_and_is_reported(host, harness, address, root):
    before = serial(address, root)
    ca = harness["harness_git_container"]  # pebble runs in the git server's container
    subprocess.run(["docker", "exec", ca, "systemctl", "stop", "pebble"], check=True)
    set_renew_remaining(host, 1.0)
    try:
        renewal = host.run("systemctl start webstack-acme.service")
    finally:
        set_renew_remaining(host, 0.33)
        subprocess.run(["docker", "exec", ca, "systemctl", "start", "pebble"], check=True)
    assert renewal.rc != 0
    assert serial(address, root) == before
    outcome = state(host)
    assert outcome["result"] == "failed" and outcome["last_renewal"]["result"] == "failed"
    assert "certbot failed" in outcome["message"], outcome
    assert "webapp: failed" in host.run("webstack-acme status").stdout
