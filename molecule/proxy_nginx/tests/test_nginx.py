"""nginx in front of gunicorn and uWSGI, checked from outside the container as a client would see it."""

from pathlib import Path

import pytest

from proxy_tests import *  # noqa: F401,F403  (the checks every front server must pass)


@pytest.fixture()
def proxy():
    return {
        "role_tag": "nginx",
        "tls_tag": "nginx_tls",
        "certificate": "/etc/ssl/webstack/webapp.crt",
        "server_header": "nginx",
        "site": "/etc/nginx/sites-available/webapp.conf",
        "converge": Path(__file__).resolve().parents[2] / "shared" / "converge-proxy.yml",
        "extra_variable": "nginx_server_extra",
        "broken_directive": "no_such_directive on;",
        "refusal": 'unknown directive "no_such_directive"',
        "check_command": "nginx -t",
    }


def test_rate_limit_answers_429_past_the_burst(get):
    statuses = [get("/login").status_code for _ in range(25)]
    assert statuses[0] == 404  # the app answers (it has no login page) while within the burst
    assert statuses.count(429) > 0

