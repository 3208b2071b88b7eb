"""plugins/modules/selfsigned_check.py: what it makes of a key, a request and a certificate, made here with
cryptography as community.crypto makes them (EC P-256, CN and alternative names, signed by its own key)."""

import datetime
import importlib.util
import ipaddress

from conftest import ROOT
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SPEC = importlib.util.spec_from_file_location("selfsigned_check", ROOT / "plugins" / "modules" / "selfsigned_check.py")
selfsigned_check = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(selfsigned_check)

NAMES = ["DNS:localhost", "IP:127.0.0.1", "IP:172.18.0.2"]


def make(common_name="localhost", names=("localhost", "127.0.0.1", "172.18.0.2"), curve=ec.SECP256R1(),
         signer=None):
    """A key, a request and a certificate (signed by `signer`'s key when given, else by its own)."""
    key = ec.generate_private_key(curve)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    san = x509.SubjectAlternativeName(entries)
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(san, False).sign(
        key, hashes.SHA256())
    issuer_key, issuer = (signer, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some CA")])) if signer \
        else (key, subject)
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=825)).add_extension(san, False)
                   .sign(issuer_key, hashes.SHA256()))
    return key, csr, certificate


def test_a_certificate_made_as_asked_is_current_in_any_order_of_names():
    key, csr, certificate = make()
    assert selfsigned_check.compare(key, csr, certificate, "localhost", NAMES, "secp256r1") == []
    assert selfsigned_check.compare(key, csr, certificate, "localhost", NAMES[::-1], "secp256r1") == []


def test_another_name_address_subject_or_key_is_not_current():
    key, csr, certificate = make()
    moved = ["DNS:localhost", "IP:127.0.0.1", "IP:172.18.0.9"]
    reasons = selfsigned_check.compare(key, csr, certificate, "localhost", moved, "secp256r1")
    assert reasons == ["the request's alternative names are DNS:localhost, IP:127.0.0.1, IP:172.18.0.2",
                       "the certificate's alternative names are DNS:localhost, IP:127.0.0.1, IP:172.18.0.2"]
    assert selfsigned_check.compare(key, csr, certificate, "www.example.org", NAMES, "secp256r1") == [
        "the request's subject is CN=localhost", "the certificate's subject is CN=localhost"]
    other_key, _, _ = make()
    assert selfsigned_check.compare(other_key, csr, certificate, "localhost", NAMES, "secp256r1") == [
        "the request is not for the key", "the certificate is not for the key"]
    p384 = make(curve=ec.SECP384R1())
    assert selfsigned_check.compare(*p384, "localhost", NAMES, "secp256r1") == ["the key is not an EC key on secp256r1"]


def test_a_certificate_signed_by_another_key_is_not_self_signed():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key, csr, certificate = make(signer=ca_key)
    assert selfsigned_check.compare(key, csr, certificate, "localhost", NAMES, "secp256r1") == [
        "the certificate is not self-signed"]


def test_addresses_are_compared_as_addresses():
    assert selfsigned_check.wanted_names(["IP:::1", "IP:0:0:0:0:0:0:0:1", "dns:a.example"]) == {"IP:::1",
                                                                                                "DNS:a.example"}
