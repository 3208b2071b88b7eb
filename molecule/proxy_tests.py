"""Checks every front server must pass, from outside the container as a client sees it.

A scenario's test module imports them (`from proxy_tests import *`) and defines the `proxy` fixture:
role_tag, tls_tag, certificate, server_header, site, converge, extra_variable, broken_directive, refusal, check_command.
"""

import re
import socket
import ssl
import subprocess
import uuid

import pytest
import requests

from webstack_testing import app_log


@pytest.fixture()
def cert(host, tmp_path, proxy):
    """The site's self-signed certificate, trusted for this test only."""
    path = tmp_path / "site.crt"
    path.write_text(host.file(proxy["certificate"]).content_string)
    return str(path)


@pytest.fixture()
def get(address, cert):
    def fetch(path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return requests.get(f"https://{address}{path}", verify=cert, **kwargs)

    return fetch


def test_app_answers_over_https_with_a_verified_certificate(get):
    page = get("/")
    assert page.status_code == 200 and '<span id="version">1.0.0</span>' in page.text
    assert get("/healthz").json() == {"status": "ok", "version": "1.0.0"}


def test_plain_http_redirects_to_https(address):
    answer = requests.get(f"http://{address}/jobs/1?x=1", allow_redirects=False, timeout=10)
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://{address}/jobs/1?x=1"


def test_security_headers(get, proxy):
    headers = get("/").headers
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Server"] == proxy["server_header"]  # no version


def handshake(address, version):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client offers old versions; the server must refuse
    context.minimum_version = context.maximum_version = version
    with socket.create_connection((address, 443), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.version()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_is_refused_by_the_server(address, version):
    with pytest.raises(ssl.SSLError) as refused:
        handshake(address, version)
    # An alert from the server, not a client that would not even try.
    assert "ALERT_PROTOCOL_VERSION" in str(refused.value) or "alert protocol version" in str(refused.value)


@pytest.mark.parametrize("version, name", [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")])
def test_tls_1_2_and_1_3_are_accepted(address, version, name):
    assert handshake(address, version) == name


def negotiated(address, protocols):
    """The application protocol the server picks (ALPN) from the ones a client offers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(protocols)
    with socket.create_connection((address, 443), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.selected_alpn_protocol()


def test_http2_is_negotiated_and_http_1_1_still_served(address):
    assert negotiated(address, ["h2", "http/1.1"]) == "h2"
    assert negotiated(address, ["http/1.1"]) == "http/1.1"


def test_static_files_come_from_the_proxy_with_cache_headers_and_compression(host, get):
    marker = uuid.uuid4().hex
    static = get(f"/static/style.css?probe={marker}", headers={"Accept-Encoding": "gzip"})
    assert static.status_code == 200 and "font-family" in static.text
    assert static.headers["Cache-Control"] == "max-age=2592000"
    assert static.headers["Content-Encoding"] == "gzip"
    control = uuid.uuid4().hex
    page = get(f"/?probe={control}", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    # The app's pages are not compressed over TLS (BREACH), though long enough to be.
    assert "Content-Encoding" not in page.headers and len(page.content) > 128
    log = app_log(host)
    assert control in log  # the app's access log shows requests it gets...
    assert marker not in log  # ...and it never got the static one


def test_maintenance_flag_serves_503_but_keeps_health(host, get):
    assert get("/maintenance.html").status_code == 404  # the page is only shown in maintenance
    host.run("touch /srv/webapp/shared/maintenance")
    try:
        page = get("/")
        assert page.status_code == 503 and "Down for maintenance" in page.text
        assert get("/jobs/1").status_code == 503
        assert get("/healthz").status_code == 200
    finally:
        host.run("rm -f /srv/webapp/shared/maintenance")
    assert get("/").status_code == 200


def test_body_over_the_limit_gets_413(address, cert):
    answer = requests.post(f"https://{address}/jobs", data=b"x" * (11 * 1024 * 1024), verify=cert, timeout=30)
    assert answer.status_code == 413


def test_app_sees_the_real_client_and_ignores_a_forged_forwarded_for(harness, get):
    gateway = subprocess.run(
        ["docker", "network", "inspect", harness["harness_network"], "--format",
         "{{ (index .IPAM.Config 0).Gateway }}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    seen = get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"}).json()
    assert seen["remote_addr"] == gateway  # this machine, as the container sees it
    assert seen["scheme"] == "https"


def test_only_the_proxy_listens_and_the_app_port_is_not_reachable(host, harness, address):
    listeners = [line.split()[3] for line in host.check_output("ss -Hltn").splitlines()]
    # Docker's own DNS resolver listens on 127.0.0.11 in every container; everything else is ours.
    ports = {listener.rsplit(":", 1)[1] for listener in listeners if not listener.startswith("127.0.0.11:")}
    assert ports == {"80", "443"}
    probe = (
        "import socket,sys\n"
        "for port in (8000, 8080, 5000):\n"
        "    s = socket.socket(); s.settimeout(3)\n"
        f"    sys.exit(1) if s.connect_ex(('{address}', port)) == 0 else s.close()\n"
    )
    result = subprocess.run(["docker", "exec", harness["harness_git_container"], "python3", "-c", probe], check=False)
    assert result.returncode == 0


def test_broken_site_is_refused_and_the_old_one_keeps_serving(host, run_playbook, get, proxy):
    before = host.file(proxy["site"]).content_string
    # The front server's role alone: the app's roles before it would only repeat the converge.
    rc, output = run_playbook(proxy["converge"], limit=host.backend.get_hostname(), tags=proxy["role_tag"],
                              extra_vars={proxy["extra_variable"]: proxy["broken_directive"]})
    assert rc != 0
    assert proxy["refusal"] in output
    assert host.file(proxy["site"]).content_string == before
    assert get("/").status_code == 200
    assert host.run(proxy["check_command"]).rc == 0


def test_a_self_signed_certificate_for_other_names_is_made_again_and_served(host, run_playbook, proxy, address):
    # The role reads key, request and certificate once and makes them again only when one differs from what it
    # would make: here a pair for another name. The new certificate must be the one served (the server reloaded),
    # and a run after that changes nothing.
    name = host.backend.get_hostname()
    crt = proxy["certificate"]
    key = crt.removesuffix(".crt") + ".key"
    host.check_output(f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -keyout {key} "
                      f"-out {crt} -subj /CN=old.example -addext subjectAltName=DNS:old.example 2>/dev/null")
    rc, output = run_playbook(proxy["converge"], limit=name, tags=proxy["tls_tag"])
    assert rc == 0, output[-3000:]
    assert re.search(rf"^{name}\s+: ok=\d+\s+changed=[1-9]", output, re.MULTILINE), output[-3000:]
    made = host.file(crt).content_string
    assert "old.example" not in host.check_output(f"openssl x509 -in {crt} -noout -subject -ext subjectAltName")
    served = ssl.get_server_certificate((address, 443), timeout=10)
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(made)
    rc, output = run_playbook(proxy["converge"], limit=name, tags=proxy["tls_tag"])
    assert rc == 0, output[-3000:]
    assert re.search(rf"^{name}\s+: ok=\d+\s+changed=0\s", output, re.MULTILINE), output[-3000:]
