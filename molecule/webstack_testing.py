"""Helpers shared by the scenarios' tests (fixtures live in molecule/conftest.py)."""

import base64
import contextlib
import json
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path

import paramiko
from cryptography import x509


def as_printed(output):
    """Ansible's output as one reads it: the scenarios' YAML result format folds a long string over lines and doubles
    the single quotes in it; runs of whitespace become one space, '' becomes '."""
    return " ".join(output.replace("''", "'").split())


def app_log(host):
    """The supervisor log of the app server's live colour: its own output, and its access lines when it logs them."""
    slot = host.file("/srv/webapp/run/live.sock").linked_to.rsplit("/", 1)[1].removesuffix(".sock")
    return host.file(f"/var/log/supervisor/webapp-{slot}.log").content_string


def ssh_login(address, username, *, key_file=None, password=None, command="id -un"):
    """Log in over SSH as a user would and run one command; raise paramiko's error when refused."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            address,
            username=username,
            key_filename=key_file,
            password=password,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=10,
        )
        _, stdout, _ = client.exec_command(command, timeout=20)
        return stdout.read().decode().strip()
    finally:
        client.close()


def openssh(address, username, *, key_file=None, options=(), command="id -un", timeout=60):
    """Log in with this machine's OpenSSH client (it speaks the post-quantum key exchanges paramiko lacks)."""
    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes",
            "-o", "LogLevel=ERROR", *options]
    if key_file:
        argv += ["-i", str(key_file)]
    return subprocess.run(argv + [f"{username}@{address}", command], capture_output=True, text=True,
                          timeout=timeout, check=False)


# ssh-audit's built-in policy for each Debian release the hardening role supports (tests and make bench).
SSH_AUDIT_POLICIES = {"12": "Hardened Debian 12 (version 3)", "13": "Hardened Debian 13 (version 1)"}


def lynis_hardening_index(report):
    """The hardening index in a Lynis report file (its key=value lines)."""
    match = re.search(r"^hardening_index=(\d+)$", report, re.M)
    if not match:
        raise ValueError("no hardening_index in the Lynis report")
    return int(match.group(1))


LOADGEN = Path(__file__).resolve().parent / "shared" / "files" / "loadgen.py"


def wait_out_fail_window(container, site="/etc/nginx/sites-available/webapp.conf", in_a_row=20, seconds=30):
    """After load that made a load balancer mark its web hosts failed (max_fails): wait its fail_timeout and a margin
    (its last failure came with the load's slowest answers, which the client cannot place exactly), then until it
    answers `in_a_row` requests in a row (each nginx worker keeps its own marks), at most `seconds` more. Returns
    whether it did."""
    config = subprocess.run(["docker", "exec", container, "cat", site], capture_output=True, text=True, check=True)
    time.sleep(int(re.search(r"fail_timeout=(\d+)s", config.stdout).group(1)) + 2)
    script = (f"for _ in $(seq {seconds}); do ok=0; for _ in $(seq {in_a_row}); do "
              "curl -skf -o /dev/null https://localhost/healthz && ok=$((ok + 1)); done; "
              f"[ $ok -eq {in_a_row} ] && exit 0; sleep 1; done; exit 1")
    return subprocess.run(["docker", "exec", container, "bash", "-c", script], check=False).returncode == 0


class Load:
    """The bounded load generator, running inside a container while the test does something else."""

    def __init__(self, container, *args):
        subprocess.run(["docker", "cp", str(LOADGEN), f"{container}:/usr/local/bin/loadgen"], check=True)
        subprocess.run(["docker", "exec", container, "rm", "-f", "/tmp/loadgen.stop", "/tmp/loadgen.ready"], check=True)
        self.container = container
        self.process = subprocess.Popen(
            ["docker", "exec", container, "python3", "/usr/local/bin/loadgen", "--stop-file=/tmp/loadgen.stop",
             "--ready-file=/tmp/loadgen.ready", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(100):
            if subprocess.run(["docker", "exec", container, "test", "-e", "/tmp/loadgen.ready"]).returncode == 0:
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.1)

    def stop(self):
        subprocess.run(["docker", "exec", self.container, "touch", "/tmp/loadgen.stop"], check=True)
        out, err = self.process.communicate(timeout=600)
        result = json.loads(out)
        print(f"load on {self.container}: {json.dumps(result)}")
        return result


def served_certificate(address, name, root):
    """The certificate served on address:443 for `name` (SNI), verified against the PEM `root` with the name checked
    (ssl raises otherwise), and the status line of /healthz asked over the same connection."""
    context = ssl.create_default_context(cadata=root)
    with socket.create_connection((address, 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET /healthz HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            status = tls.recv(4096).split(b"\r\n", 1)[0].decode()
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)), status


def acme_root(host):
    """The scenario's ACME CA's root, from pebble's management API, asked from a host that trusts pebble's own TLS."""
    return host.check_output("curl -sf --cacert /etc/webstack/acme/webapp.ca.pem https://acme:15000/roots/0")


def dns_names(cert):
    return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
               .get_values_for_type(x509.DNSName))



@contextlib.contextmanager
def acme_all_due(host, name="webapp"):
    """Inside, the certificate `name` is due (its renewal threshold at the whole lifetime), as an operator would set it
    for an early renewal; its description is put back byte for byte after (a later run must change nothing)."""
    path = f"/etc/webstack/acme/{name}.json"
    original = host.file(path).content
    config = json.loads(original)
    config["renew_remaining"] = 1.0

    def write(data):
        host.check_output(f"echo {base64.b64encode(data).decode()} | base64 -d > {path}")

    write(json.dumps(config).encode())
    try:
        yield
    finally:
        write(original)


WEBHOOK_PORT = 8099
# A webhook receiver on the host's loopback: each POST's JSON body, one a line, into a file.
WEBHOOK_SCRIPT = r"""
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[1], "ab") as calls:
            calls.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
"""


class Webhook:
    """A webhook that records the calls it gets, on the host itself (loopback), while the `with` lasts."""

    def __init__(self, host):
        self.host, self.calls_file, self.url = host, "/tmp/webhook-calls.jsonl", f"http://127.0.0.1:{WEBHOOK_PORT}/hook"

    def __enter__(self):
        self.host.run(f"rm -f {self.calls_file}; cat > /tmp/webhook.py <<'EOF'\n{WEBHOOK_SCRIPT}\nEOF")
        self.host.run(f"setsid python3 /tmp/webhook.py {self.calls_file} {WEBHOOK_PORT} </dev/null >/dev/null 2>&1 &")
        for _ in range(50):
            if self.host.run(f"ss -Hltn 'sport = :{WEBHOOK_PORT}' | grep -q LISTEN").rc == 0:
                return self
            time.sleep(0.1)
        raise AssertionError("the webhook receiver did not start")

    def __exit__(self, *exc):
        self.host.run("pkill -f /tmp/webhook.py")

    def calls(self):
        text = self.host.run(f"cat {self.calls_file}").stdout
        return [json.loads(line) for line in text.splitlines() if line.strip()]
