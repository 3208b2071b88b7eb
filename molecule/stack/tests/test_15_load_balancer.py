"""The load balancer: HTTPS in front of both web hosts, which take plain HTTP from it alone; a drained host gets
no new requests and comes back; the maintenance page on every front server and off again."""

import json
from pathlib import Path

import pytest

from estate import CURL, access_count, address, fetch, health
from webstack_testing import Load, acme_all_due, acme_root, as_printed, dns_names, served_certificate

MAINTENANCE = Path(__file__).resolve().parents[3] / "playbooks" / "maintenance.yml"


def test_the_load_balancer_serves_the_app_from_both_web_hosts(lb, webs):
    before = [access_count(web) for web in webs]
    for _ in range(20):
        assert health(lb) == {"status": "ok", "version": "1.0.0"}
    served = [access_count(web) - count for web, count in zip(webs, before)]
    assert sum(served) == 20 and all(count > 0 for count in served), served


NAME = "www.stack.webstack.test"  # an alias of both load balancers on the scenario's network
# Load on each load balancer's own HTTPS port while the certificates change under it.
LOAD = ["--port=443", "--tls", "--requests=20000", "--seconds=120", "--concurrency=4", "--rate=100", "--at-least=300"]


def serial(lb, root):
    return served_certificate(address(lb), NAME, root)[0].serial_number


def test_both_load_balancers_serve_one_certificate_from_the_acme_ca_and_the_web_hosts_ask_for_none(lb, lb2, webs):
    root = acme_root(lb)
    certs = [served_certificate(address(host), NAME, root) for host in (lb, lb2)]
    assert [dns_names(cert) for cert, _ in certs] == [{NAME}, {NAME}]
    assert [status for _, status in certs] == ["HTTP/1.1 200 OK"] * 2
    assert certs[0][0].serial_number == certs[1][0].serial_number
    # Only the first asks the CA.
    assert lb.package("certbot").is_installed and not lb2.package("certbot").is_installed
    # nginx_acme is on for every host in the inventory: site.yml leaves the web hosts behind the load balancers out.
    for web in webs:
        assert not web.file("/etc/webstack/acme").exists
        assert not web.package("certbot").is_installed


def test_the_second_load_balancer_passes_the_cas_challenges_to_the_first(lb, lb2):
    # Whichever load balancer the CA reaches answers with the issuing one's token.
    token = "webstack-test-token-5e1f"
    lb.check_output(f"echo {token}-content > /var/www/acme/.well-known/acme-challenge/{token}")
    try:
        answer = lb2.check_output(f"{CURL} -H 'Host: {NAME}' http://127.0.0.1/.well-known/acme-challenge/{token}")
    finally:
        lb.run(f"rm -f /var/www/acme/.well-known/acme-challenge/{token}")
    assert answer == f"{token}-content"


def test_the_second_load_balancer_follows_a_renewal_of_the_first_under_load(lb, lb2):
    root = acme_root(lb)
    before = serial(lb, root)
    loads = [Load(host.backend.get_hostname(), *LOAD) for host in (lb, lb2)]
    with acme_all_due(lb):
        assert lb.run("systemctl start webstack-acme.service").rc == 0
    renewed, waiting = serial(lb, root), serial(lb2, root)
    follow = lb2.run("systemctl start webstack-acme.service")
    results = [load.stop() for load in loads]
    assert renewed != before
    assert waiting == before  # until its own timer runs
    assert follow.rc == 0, lb2.run("journalctl -u webstack-acme.service -n 20").stdout
    assert serial(lb2, root) == renewed
    outcome = json.loads(lb2.check_output("webstack-acme status --json"))[0]
    assert outcome["last_renewal"]["result"] == "renewed"
    assert "took the issuing host's certificate" in outcome["last_renewal"]["message"]
    for result in results:
        assert result["sent"] >= 300, "too little load to say anything"
        assert result["connection_errors"] == 0, result["first_errors"]
        assert result["non_2xx"] == 0, result["statuses"]


def content_encoding(lb, path):
    """How the load balancer encodes `path` for a client that accepts gzip ("" for not at all)."""
    headers = lb.check_output(f"{CURL} -H 'Accept-Encoding: gzip' -o /dev/null -D - https://localhost{path}")
    found = [line.split(":", 1)[1].strip() for line in headers.splitlines()
             if line.lower().startswith("content-encoding:")]
    return found[0] if found else ""


def test_static_files_come_through_the_load_balancer_compressed_and_the_apps_pages_do_not(lb):
    status, body = fetch(lb, "/static/style.css")
    assert status == 200 and body
    assert content_encoding(lb, "/static/style.css") == "gzip"
    status, page = fetch(lb, "/")
    assert status == 200 and len(page) > 128  # long enough to be compressed, were it allowed (BREACH)
    assert content_encoding(lb, "/") == ""


def test_the_app_sees_the_client_and_https_through_both_proxies(lb, worker):
    # From the worker host to the load balancer's address: the app must see the worker's address, not the
    # load balancer's or the web host's, and the scheme the client used.
    seen = json.loads(worker.check_output(f"{CURL} https://{address(lb)}/whoami"))
    assert seen["remote_addr"] == address(worker)
    assert seen["scheme"] == "https"
    # A forged X-Forwarded-For from the client does not become the client's address.
    forged = json.loads(worker.check_output(f"{CURL} -H 'X-Forwarded-For: 203.0.113.9' https://{address(lb)}/whoami"))
    assert forged["remote_addr"] == address(worker)


@pytest.mark.parametrize("index", [0, 1])
def test_web_hosts_take_plain_http_from_the_load_balancer_only(lb, worker, webs, index):
    web = webs[index]
    url = f"http://{address(web)}:8080/healthz"
    status = "curl -s -o /dev/null -w '%{http_code}' --connect-timeout 5 " + url
    assert lb.check_output(status) == "200"
    # The web host's firewall opens the backend port to the load balancer only: from the worker, no answer at all
    # (curl's 28 is a connect timeout; a closed port would be 7).
    from_worker = worker.run(status)
    assert (from_worker.rc, from_worker.stdout) == (28, "000")
    # Behind the firewall nginx allows the load balancers alone too: the web host itself (its own traffic passes
    # the firewall) is refused by nginx.
    assert web.check_output(status) == "403"


def test_a_drained_web_host_gets_no_new_requests_until_it_is_put_back(lb, webs):
    backend = f"{address(webs[0])}:8080"
    assert lb.check_output(f"webstack-nginx-drain webapp {backend} down") == "changed"
    try:
        assert lb.check_output(f"webstack-nginx-drain webapp {backend} down") == "unchanged"
        before = [access_count(web) for web in webs]
        for _ in range(20):
            assert health(lb)["status"] == "ok"
        assert [access_count(web) - count for web, count in zip(webs, before)] == [0, 20]
        # The other host is now the last one in rotation: it is never taken out.
        last = lb.run(f"webstack-nginx-drain webapp {address(webs[1])}:8080 down")
        assert last.rc == 3 and "last server" in last.stderr
    finally:
        assert lb.check_output(f"webstack-nginx-drain webapp {backend} up") == "changed"
    before = [access_count(web) for web in webs]
    for _ in range(20):
        assert health(lb)["status"] == "ok"
    assert all(access_count(web) > count for web, count in zip(webs, before))


def test_maintenance_serves_the_page_from_every_front_server_but_not_on_the_health_path(lb, lb2, webs,
                                                                                         run_playbook):
    fronts = [lb, lb2, *webs]
    try:
        rc, output = run_playbook(MAINTENANCE, extra_vars={"maintenance": "on"})
        assert rc == 0, output[-3000:]
        for host in fronts:
            status, body = fetch(host, "/")
            assert status == 503 and "Down for maintenance" in body, (host.backend.get_hostname(), status, body)
            assert health(host)["status"] == "ok"  # through a load balancer, from a web host in maintenance
            name = host.backend.get_hostname()
            assert f"{name}: maintenance on; / answers 503, /healthz answers 200" in as_printed(output)
    finally:
        rc, output = run_playbook(MAINTENANCE, extra_vars={"maintenance": "off"})
    assert rc == 0, output[-3000:]
    assert [fetch(host, "/")[0] for host in fronts] == [200] * len(fronts)
