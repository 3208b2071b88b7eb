"""The load balancer: HTTPS in front of both web hosts, which take plain HTTP from it alone; a drained host gets
no new requests and comes back."""

import json

import pytest

from estate import CURL, access_count, address, fetch, health
from webstack_testing import acme_root, dns_names, served_certificate


def test_the_load_balancer_serves_the_app_from_both_web_hosts(lb, webs):
    before = [access_count(web) for web in webs]
    for _ in range(20):
        assert health(lb) == {"status": "ok", "version": "1.0.0"}
    served = [access_count(web) - count for web, count in zip(webs, before)]
    assert sum(served) == 20 and all(count > 0 for count in served), served


def test_the_load_balancer_serves_a_certificate_from_the_acme_ca_and_the_web_hosts_ask_for_none(lb, webs):
    cert, status = served_certificate(address(lb), "www.stack.webstack.test", acme_root(lb))
    assert dns_names(cert) == {"www.stack.webstack.test"}
    assert status == "HTTP/1.1 200 OK"
    # nginx_acme is on for every host in the inventory: site.yml leaves the web hosts behind the load balancer out.
    for web in webs:
        assert not web.file("/etc/webstack/acme").exists
        assert not web.package("certbot").is_installed


def test_static_files_come_through_the_load_balancer(lb):
    status, body = fetch(lb, "/static/style.css")
    assert status == 200 and body


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
