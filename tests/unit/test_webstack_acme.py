"""webstack-acme, the acme role's renewal command: when it asks the CA, what it installs, what it keeps on failure.

certbot is replaced by a stand-in on PATH that "issues" certificates signed by a test CA; the pre-check talks to a
real HTTP server on this machine serving the challenge folder.
"""

import datetime
import functools
import http.server
import importlib.machinery
import importlib.util
import json
import socket
import ssl
import threading
from pathlib import Path

import pytest
from conftest import ROOT
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCRIPT = ROOT / "roles" / "acme" / "files" / "webstack-acme"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)  # X.509 keeps whole seconds


def load_script():
    loader = importlib.machinery.SourceFileLoader("webstack_acme", str(SCRIPT))
    spec = importlib.util.spec_from_loader("webstack_acme", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture()
def acme(tmp_path):
    module = load_script()
    module.CONFIG_DIR, module.STATE_DIR = tmp_path / "config", tmp_path / "state"
    module.CERTBOT_DIR = tmp_path / "letsencrypt"
    module.PRECHECK_TRIES = 2
    module.CERTBOT_LOG = tmp_path / "letsencrypt.log"
    module.CONFIG_DIR.mkdir()
    return module


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@functools.lru_cache(maxsize=1)
def signing_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    return key, name("Test CA")


def issue(names, lifetime=3600, left=3000, self_signed=False, key=None):
    """A PEM chain and key for the names, valid `lifetime` seconds, `left` of them still to come (for `key`, else a
    new one)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    ca_key, ca_name = (key, name(names[0])) if self_signed else signing_ca()
    start = NOW - datetime.timedelta(seconds=lifetime - left)
    cert = (x509.CertificateBuilder().subject_name(name(names[0])).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(seconds=lifetime))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: ARG002 - the tests read outcomes, not request logs
        pass


def serve(folder):
    """A plain HTTP server on 127.0.0.1 serving `folder` (its port: server_address[1])."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class TlsServer:
    """A front server's HTTPS port on 127.0.0.1: each connection gets the certificate files as they are then (a server
    that takes a reload at once), or, once frozen, as they were at freeze() (one that never takes a new pair)."""

    def __init__(self, certificate, key):
        self.files, self.frozen = (certificate, key), None
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def context(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.files)
        return context

    def freeze(self):
        self.frozen = self.context()

    def serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                with (self.frozen or self.context()).wrap_socket(connection, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                connection.close()  # no certificate yet, or the client went away


@pytest.fixture()
def site(tmp_path, acme, monkeypatch):
    """A configured certificate for `localhost`, its webroot served over HTTP, certbot and the server stood in for."""
    webroot = tmp_path / "webroot"
    webroot.mkdir()
    server = serve(webroot)
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    # The stand-in certbot writes the chain and key it finds in ISSUE (or fails when ISSUE is missing).
    (bin_dir / "certbot").write_text(f"""#!/bin/sh
echo "certbot $*" >> {calls}
[ -e {tmp_path}/issue.crt ] || {{ echo "acme.messages.Error: urn:ietf:params:acme:error:connection :: the CA is down" \
  >> {tmp_path}/letsencrypt.log; echo "An unexpected error occurred:" >&2; exit 1; }}
while [ "$1" != "--cert-name" ]; do shift; done
mkdir -p {acme.CERTBOT_DIR}/live/$2
cp {tmp_path}/issue.crt {acme.CERTBOT_DIR}/live/$2/fullchain.pem
cp {tmp_path}/issue.crt {acme.CERTBOT_DIR}/live/$2/cert.pem
cp {tmp_path}/issue.key {acme.CERTBOT_DIR}/live/$2/privkey.pem
""")
    (bin_dir / "certbot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    tls = TlsServer(tmp_path / "webapp.crt", tmp_path / "webapp.key")
    config = {"name": "webapp", "domains": ["localhost"], "directory": "https://ca.test/dir", "email": "",
              "key_type": "ecdsa", "ca_bundle": "", "renew_remaining": 0.33, "webroot": str(webroot),
              "http_port": server.server_address[1], "https_port": tls.port,
              "certificate": str(tmp_path / "webapp.crt"), "key": str(tmp_path / "webapp.key"), "test": ["true"],
              "reload": ["sh", "-c", f"echo reload >> {calls}"]}
    (acme.CONFIG_DIR / "webapp.json").write_text(json.dumps(config))
    yield {"config": config, "calls": calls, "tmp": tmp_path, "tls": tls}
    server.shutdown()
    tls.listener.close()


def install_pair(path_prefix, pair):
    Path(f"{path_prefix}.crt").write_bytes(pair[0])
    Path(f"{path_prefix}.key").write_bytes(pair[1])


def calls(site):
    return site["calls"].read_text().splitlines() if site["calls"].exists() else []


@pytest.mark.parametrize("pair, reason", [
    (None, "no certificate yet"),
    (issue(["shop.test"], self_signed=True), "the certificate is self-signed"),
    (issue(["shop.test", "old.shop.test"]), "the names changed (added www.shop.test, dropped old.shop.test)"),
    (issue(["shop.test", "www.shop.test"], lifetime=3600, left=1000), "1000 s of its 3600 s lifetime left"),
    (issue(["shop.test", "www.shop.test"], lifetime=90 * 86400, left=29 * 86400), "lifetime left"),
    (issue(["shop.test", "www.shop.test"], lifetime=3600, left=1300), ""),
    (issue(["shop.test", "www.shop.test"], lifetime=45 * 86400, left=16 * 86400), ""),
])
def test_a_certificate_is_due_by_its_names_and_the_third_of_its_own_lifetime(acme, pair, reason):
    cert = x509.load_pem_x509_certificate(pair[0]) if pair else None
    why = acme.why_new(cert, {"domains": ["shop.test", "www.shop.test"], "renew_remaining": 0.33}, NOW)
    assert reason in why if reason else why == ""



def test_a_due_certificate_is_obtained_installed_and_the_server_reloaded(acme, site):
    pair = issue(["localhost"])
    install_pair(site["tmp"] / "issue", pair)
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "renewed" and outcome["changed"], outcome
    assert Path(site["config"]["certificate"]).read_bytes() == pair[0]
    assert Path(site["config"]["key"]).stat().st_mode & 0o777 == 0o600
    assert [line.split()[0] for line in calls(site)] == ["certbot", "reload"]
    certbot = calls(site)[0]
    assert "--server https://ca.test/dir" in certbot and "--domain localhost" in certbot
    assert "--key-type ecdsa --webroot" in certbot and "--register-unsafely-without-email" in certbot
    # Fresh now: nothing asked of the CA, nothing reloaded, and the last renewal is still on record.
    again = acme.renew(site["config"])
    assert again["result"] == "current" and not again["changed"], again
    assert len(calls(site)) == 2
    assert acme.read_state("webapp")["last_renewal"]["result"] == "renewed"


def test_a_name_that_does_not_resolve_stops_before_the_ca_is_asked(acme, site):
    install_pair(site["tmp"] / "issue", issue(["localhost", "nowhere.invalid"]))
    site["config"]["domains"] = ["localhost", "nowhere.invalid"]
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "failed", outcome
    assert "names that do not resolve: nowhere.invalid" in outcome["message"], outcome
    assert calls(site) == []
    assert not list((Path(site["config"]["webroot"]) / acme.CHALLENGE).iterdir()), "the check token was left behind"


def test_a_name_that_reaches_another_server_is_named(acme, site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = serve(elsewhere)
    try:
        site["config"]["http_port"] = other.server_address[1]
        outcome = acme.renew(site["config"])
    finally:
        other.shutdown()
    assert outcome["result"] == "failed"
    assert "do not reach this host's /.well-known/acme-challenge/ over HTTP: localhost (HTTP 404" in outcome["message"]
    assert calls(site) == []


def test_a_failed_renewal_keeps_the_old_certificate_and_says_so(acme, site):
    old = issue(["localhost"], lifetime=3600, left=600)
    install_pair(site["tmp"] / "webapp", old)
    outcome = acme.renew(site["config"])  # no issue.crt: the stand-in CA is down
    assert outcome["result"] == "failed", outcome
    # The CA's own words come from certbot's log (Debian 12's certbot hides them behind an AttributeError).
    assert "certbot failed (exit 1): An unexpected error occurred: / the CA said: " \
        "urn:ietf:params:acme:error:connection :: the CA is down" in outcome["message"], outcome["message"]
    assert Path(site["config"]["certificate"]).read_bytes() == old[0]
    state = acme.read_state("webapp")
    assert state["last_renewal"]["result"] == "failed"
    assert state["certificate"]["serial"] == format(x509.load_pem_x509_certificate(old[0]).serial_number, "x")
    assert acme.main(["status", "--json"]) == 1


def test_a_certificate_the_server_refuses_is_taken_back(acme, site):
    old, new = issue(["localhost"], left=100), issue(["localhost"])
    install_pair(site["tmp"] / "webapp", old)
    install_pair(site["tmp"] / "issue", new)
    site["config"]["test"] = ["sh", "-c", "echo 'no such key' >&2; exit 1"]
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "failed" and "refused the new certificate, the old one stays: no such key" in \
        outcome["message"]
    assert Path(site["config"]["certificate"]).read_bytes() == old[0]
    assert Path(site["config"]["key"]).read_bytes() == old[1]
    assert "reload" not in calls(site)


def test_a_reloaded_server_that_keeps_presenting_the_old_certificate_is_a_failed_renewal(acme, site):
    old, new = issue(["localhost"], left=100), issue(["localhost"])
    install_pair(site["tmp"] / "webapp", old)
    install_pair(site["tmp"] / "issue", new)
    site["tls"].freeze()
    acme.RELOAD_WAIT = 0.5
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "failed", outcome
    assert f"the server was reloaded, but port {site['tls'].port} still does not present it after 0 s" in \
        outcome["message"], outcome["message"]
    assert Path(site["config"]["certificate"]).read_bytes() == new[0]  # it passed the server's test: it stays
    assert acme.main(["status"]) == 1


def test_a_certificate_certbot_already_holds_is_installed_without_asking_the_ca(acme, site):
    pair = issue(["localhost"])
    live = acme.CERTBOT_DIR / "live" / "webapp"
    live.mkdir(parents=True)
    for file in ("cert.pem", "fullchain.pem"):
        (live / file).write_bytes(pair[0])
    (live / "privkey.pem").write_bytes(pair[1])
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "renewed" and outcome["changed"]
    assert calls(site) == ["reload"]


def test_another_ca_directory_gets_a_new_certificate_at_once(acme, site):
    install_pair(site["tmp"] / "issue", issue(["localhost"]))
    assert acme.renew(site["config"])["result"] == "renewed"
    site["config"]["directory"] = "https://production.ca.test/dir"  # from staging to production
    install_pair(site["tmp"] / "issue", issue(["localhost"]))
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "renewed", outcome
    assert outcome["message"] == "the CA changed from https://ca.test/dir"
    assert "--server https://production.ca.test/dir" in calls(site)[-2]
    assert acme.renew(site["config"])["result"] == "current"


def test_the_issuing_load_balancer_keeps_its_key_and_publishes_its_chain(acme, site):
    site["config"].update(reuse_key=True, publish=True)
    pair = issue(["localhost"])
    install_pair(site["tmp"] / "issue", pair)
    assert acme.renew(site["config"])["result"] == "renewed"
    assert "--reuse-key" in calls(site)[0]
    published = Path(site["config"]["webroot"]) / acme.CHALLENGE / "webstack-chain-webapp.pem"
    assert published.read_bytes() == pair[0]


@pytest.fixture()
def follower(acme, site, tmp_path):
    """This host follows an issuing host, stood in for by a folder served over HTTP; both hold one key."""
    issuer = tmp_path / "issuer"
    issuer.mkdir()
    server = serve(issuer)
    key = ec.generate_private_key(ec.SECP256R1())
    site["config"]["follow"] = f"http://127.0.0.1:{server.server_address[1]}/webstack-chain-webapp.pem"
    yield {"key": key, "publish": lambda pair: (issuer / "webstack-chain-webapp.pem").write_bytes(pair[0])}
    server.shutdown()


def test_a_following_load_balancer_takes_the_issuers_newer_certificate_and_nothing_else(acme, site, follower):
    old, new = issue(["localhost"], left=1000, key=follower["key"]), issue(["localhost"], key=follower["key"])
    install_pair(site["tmp"] / "webapp", old)
    follower["publish"](new)
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "renewed" and outcome["changed"], outcome
    assert Path(site["config"]["certificate"]).read_bytes() == new[0]
    assert calls(site) == ["reload"]  # the CA is never asked from here
    again = acme.renew(site["config"])
    assert again["result"] == "current" and again["message"] == "the issuing host has nothing newer"
    assert calls(site) == ["reload"]


@pytest.mark.parametrize("published, message", [
    (lambda key: issue(["localhost", "other.test"], key=key), "will not do (the names changed (dropped other.test)); it renews it itself"),
    (lambda key: issue(["localhost"]), "is for another key than this host's: run site.yml"),
])
def test_a_following_load_balancer_refuses_a_certificate_that_does_not_fit(acme, site, follower, published, message):
    old = issue(["localhost"], left=1000, key=follower["key"])
    install_pair(site["tmp"] / "webapp", old)
    site["config"]["domains"] = ["localhost"]
    follower["publish"](published(follower["key"]))
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "failed" and message in outcome["message"], outcome
    assert Path(site["config"]["certificate"]).read_bytes() == old[0]


def test_an_account_the_ca_lost_is_registered_again_once(acme, site, tmp_path):
    # The CA answers accountDoesNotExist while certbot's account folder for its directory exists (a restarted or
    # reset CA); without that folder certbot registers anew and gets its certificate.
    account = acme.CERTBOT_DIR / "accounts" / "ca.test" / "dir"
    account.mkdir(parents=True)
    stand_in = tmp_path / "bin" / "certbot"
    stand_in.write_text(f"""#!/bin/sh
if [ -d {account} ]; then
  echo "acme.messages.Error: urn:ietf:params:acme:error:accountDoesNotExist :: Account not found." >> {acme.CERTBOT_LOG}
  exit 1
fi
""" + stand_in.read_text().split("\n", 1)[1])
    install_pair(site["tmp"] / "issue", issue(["localhost"]))
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "renewed", outcome
    assert len([line for line in calls(site) if line.startswith("certbot")]) == 1  # the second try
    assert [p.name.split(".lost-")[0] for p in account.parent.iterdir()] == ["dir"]  # kept aside, renamed


def test_an_account_the_ca_keeps_losing_fails_after_one_new_registration(acme, site, tmp_path):
    stand_in = tmp_path / "bin" / "certbot"
    stand_in.write_text(f"""#!/bin/sh
mkdir -p {acme.CERTBOT_DIR}/accounts/ca.test/dir
echo "certbot $*" >> {site["calls"]}
echo "acme.messages.Error: urn:ietf:params:acme:error:accountDoesNotExist :: Account not found." >> {acme.CERTBOT_LOG}
exit 1
""")
    outcome = acme.renew(site["config"])
    assert outcome["result"] == "failed" and "accountDoesNotExist" in outcome["message"], outcome
    assert len(calls(site)) == 2


def test_status_before_any_renewal_describes_the_installed_certificate(acme, site, capsys):
    # A following load balancer gets its certificate from the playbook; its timer may not have run yet.
    pair = issue(["localhost"])
    install_pair(site["tmp"] / "webapp", pair)
    assert acme.main(["status", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)[0]
    assert outcome["result"] == "never tried"
    assert outcome["certificate"]["names"] == ["localhost"]
    assert outcome["certificate"]["serial"] == format(x509.load_pem_x509_certificate(pair[0]).serial_number, "x")
