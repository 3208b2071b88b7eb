#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a self-signed certificate, its request and its key are what the roles would make, read in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: selfsigned_check
short_description: Tell whether a self-signed certificate, its request and its key are still the ones asked for
description:
  - Reads an EC private key, a certificate signing request and the certificate signed with that key, and tells
    whether all three are as M(community.crypto.openssl_privatekey), M(community.crypto.openssl_csr) and
    M(community.crypto.x509_certificate) (provider C(selfsigned)) would leave them for the same options.
  - It changes nothing. The nginx and apache roles call it before those three modules and skip them when the
    answer is yes; each of the three loads C(cryptography) and reads the files on every run (about 0.3 s each on a
    second run), this reads them once.
  - When in doubt it answers no, and the three modules decide, as they did before.
version_added: 0.1.0
options:
  privatekey_path:
    description: The private key, expected to be an unencrypted EC key on O(curve).
    type: path
    required: true
  csr_path:
    description: The certificate signing request made with that key.
    type: path
    required: true
  path:
    description: The certificate, expected to be signed by its own key.
    type: path
    required: true
  common_name:
    description: The only attribute the request's and the certificate's subject must have.
    type: str
    required: true
  subject_alt_name:
    description: The subject alternative names both must have, as C(DNS:name) or C(IP:address), in any order.
    type: list
    elements: str
    required: true
  curve:
    description: The key's curve.
    type: str
    default: secp256r1
  privatekey_mode:
    description: The key's mode; the request and the certificate must have C(0644). All three must be root's.
    type: str
    default: "0600"
requirements:
  - cryptography (Debian's python3-cryptography) on the host
author:
  - pyops.webstack developers (@pyops-webstack)
"""

EXAMPLES = r"""
- name: Find whether the self-signed certificate is still the one asked for
  pyops.webstack.selfsigned_check:
    privatekey_path: /etc/ssl/webstack/webapp.key
    csr_path: /etc/ssl/webstack/webapp.csr
    path: /etc/ssl/webstack/webapp.crt
    common_name: localhost
    subject_alt_name: ["DNS:localhost", "IP:127.0.0.1"]
  register: selfsigned
"""

RETURN = r"""
current:
  description: Whether the key, the request and the certificate are all as asked.
  returned: always
  type: bool
reasons:
  description: What differs, empty when current.
  returned: always
  type: list
  elements: str
  sample: ["the certificate's alternative names are DNS:old.example, IP:127.0.0.1"]
"""

import ipaddress
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - reported by the module
    x509 = None


def name_of(entry):
    """A subject alternative name as the roles write it: DNS:name or IP:address (addresses normalised)."""
    if isinstance(entry, x509.DNSName):
        return "DNS:" + entry.value
    if isinstance(entry, x509.IPAddress):
        return "IP:" + str(entry.value)
    return type(entry).__name__ + ":" + str(entry.value)


def wanted_names(names):
    """The options' names, addresses normalised as name_of() writes them."""
    out = set()
    for name in names:
        kind, dummy, value = name.partition(":")
        if kind.upper() == "IP":
            try:
                value = str(ipaddress.ip_address(value))
            except ValueError:
                pass
            out.add("IP:" + value)
        else:
            out.add(kind.upper() + ":" + value)
    return out


def alt_names(item):
    try:
        return {name_of(entry) for entry in item.extensions.get_extension_for_class(x509.SubjectAlternativeName).value}
    except x509.ExtensionNotFound:
        return set()


def public_der(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def compare(key, csr, certificate, common_name, names, curve):
    """What differs between the three loaded objects and the options (an empty list when nothing does)."""
    reasons = []
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != curve:
        reasons.append(f"the key is not an EC key on {curve}")
        return reasons
    public = public_der(key.public_key())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    wanted = wanted_names(names)
    for label, item in (("request", csr), ("certificate", certificate)):
        if public_der(item.public_key()) != public:
            reasons.append(f"the {label} is not for the key")
        if item.subject != subject:
            reasons.append(f"the {label}'s subject is {item.subject.rfc4514_string()}")
        found = alt_names(item)
        if found != wanted:
            reasons.append(f"the {label}'s alternative names are {', '.join(sorted(found)) or 'none'}")
    if certificate.issuer != certificate.subject:
        reasons.append("the certificate is not self-signed")
    return reasons


def ownership(paths_modes):
    """What differs in owner (root:root) and mode of each (path, mode) pair."""
    reasons = []
    for path, mode in paths_modes:
        status = os.stat(path)
        if (status.st_uid, status.st_gid) != (0, 0) or status.st_mode & 0o7777 != int(mode, 8):
            reasons.append(f"{path} is not root's with mode {mode}")
    return reasons


def check(params):
    paths = (params["privatekey_path"], params["csr_path"], params["path"])
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        return [f"{path} is missing" for path in missing]
    try:
        with open(paths[0], "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        with open(paths[1], "rb") as handle:
            csr = x509.load_pem_x509_csr(handle.read())
        with open(paths[2], "rb") as handle:
            certificate = x509.load_pem_x509_certificate(handle.read())
    except (ValueError, TypeError) as error:
        return [f"a file does not load: {error}"]
    reasons = compare(key, csr, certificate, params["common_name"], params["subject_alt_name"], params["curve"])
    return reasons + ownership([(paths[0], params["privatekey_mode"]), (paths[1], "0644"), (paths[2], "0644")])


def main():
    module = AnsibleModule(
        argument_spec={
            "privatekey_path": {"type": "path", "required": True},
            "csr_path": {"type": "path", "required": True},
            "path": {"type": "path", "required": True},
            "common_name": {"type": "str", "required": True},
            "subject_alt_name": {"type": "list", "elements": "str", "required": True},
            "curve": {"type": "str", "default": "secp256r1"},
            "privatekey_mode": {"type": "str", "default": "0600", "no_log": False},  # a file mode, no secret
        },
        supports_check_mode=True,
    )
    if x509 is None:
        module.fail_json(msg=missing_required_lib("cryptography"))
    reasons = check(module.params)
    module.exit_json(changed=False, current=not reasons, reasons=reasons)


if __name__ == "__main__":
    main()
