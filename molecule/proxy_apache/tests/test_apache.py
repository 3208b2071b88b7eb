"""Apache in front of uWSGI (mod_proxy_uwsgi) and gunicorn (mod_proxy_http), checked from outside."""

from pathlib import Path

import pytest

from proxy_tests import *  # noqa: F401,F403  (the checks every front server must pass)


@pytest.fixture()
def proxy():
    return {
        "role_tag": "apache",
        "tls_tag": "apache_tls",
        "certificate": "/etc/ssl/webstack/webapp-apache.crt",
        "server_header": "Apache",
        "site": "/etc/apache2/sites-available/webapp.conf",
        "converge": Path(__file__).resolve().parents[2] / "shared" / "converge-proxy.yml",
        "extra_variable": "apache_vhost_extra",
        "broken_directive": "NoSuchDirective on",
        "refusal": "Invalid command 'NoSuchDirective'",
        "check_command": "apache2ctl configtest",
    }


def test_the_book_pairing_speaks_the_uwsgi_protocol(host):
    site = host.file("/etc/apache2/sites-available/webapp.conf").content_string
    expected = "uwsgi://localhost/" if host.backend.get_hostname() == "apache-uwsgi" else "http://localhost/"
    assert f'ProxyPass / "unix:/srv/webapp/run/live.sock|{expected}"' in site
    assert host.run("apache2ctl -M").stdout.count("mpm_event_module") == 1
