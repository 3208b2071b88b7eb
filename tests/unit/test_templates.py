"""Every role's templates rendered by Ansible's own templating, from the role's defaults and vars, in milliseconds.

A host stand-in gives the facts the roles read. Each template renders with the defaults; the tests then check
the choices a variable makes in the rendered text, which the containers need not check again.
"""

import configparser

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from conftest import ROOT

ROLES = ROOT / "roles"
TEMPLATES = sorted(ROLES.glob("*/templates/**/*.j2"))
# What a Debian 12 web host tells the roles about itself.
HOST = {
    "inventory_hostname": "web1",
    "ansible_managed": "Ansible managed",
    "ansible_play_hosts_all": ["web1", "web2"],
    "groups": {"all": ["web1", "web2"], "worker": ["web1", "web2"]},
    "ansible_facts": {
        "distribution_major_version": "12",
        "processor_vcpus": 2,
        "virtualization_role": "guest",
        "virtualization_type": "docker",
        "default_ipv4": {"address": "10.0.0.11"},
        "default_ipv6": {},
    },
    # Read off the host by the roles' tasks before they render.
    "__nginx_version": "1.22.1",
    # `ssh -Q kex`, `cipher`, `mac` and `HostKeyAlgorithms` of OpenSSH 9.2 (Debian 12), in part.
    "__hardening_ssh_query": {"stdout_lines": [
        "curve25519-sha256", "curve25519-sha256@libssh.org", "diffie-hellman-group16-sha512", "ecdh-sha2-nistp256",
        "sntrup761x25519-sha512@openssh.com", "diffie-hellman-group18-sha512", "diffie-hellman-group-exchange-sha256",
        "aes128-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "3des-cbc",
        "chacha20-poly1305@openssh.com", "hmac-sha1", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
        "umac-128-etm@openssh.com", "ssh-ed25519", "rsa-sha2-256", "rsa-sha2-512", "ssh-rsa",
        "ssh-ed25519-cert-v01@openssh.com"]},
    "item": {"name": "default", "command": "sleep 1", "directory": "/", "user": "nobody"},
    # The pgbackrest role: the database's data directory (found on the database host), the timer being written.
    "__pgbackrest_pg_path": "/var/lib/postgresql/15/main",
    "__pgbackrest_kind": "full",
}


def trusted(value):
    """Values as Ansible gives them to a template: strings from role files are templates themselves."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    return value


def role_variables(role):
    variables = {}
    for name in ("defaults/main.yml", "vars/main.yml"):
        path = ROLES / role / name
        if path.exists():
            variables.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return variables


def render(template, **overrides):
    """One template of a role (its path under templates/), as the role's template task would write it."""
    role, _, path = template.partition("/")
    variables = trusted({**HOST, **role_variables(role), **overrides})
    source = (ROLES / role / "templates" / path).read_text(encoding="utf-8")
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(source))


def template_id(path):
    return str(path.relative_to(ROLES)).replace("/templates/", "/")


@pytest.mark.parametrize("path", TEMPLATES, ids=[template_id(path) for path in TEMPLATES])
def test_every_template_renders_with_the_defaults(path):
    out = render(template_id(path))
    assert "Ansible managed" in out
    assert "{{" not in out and "{%" not in out


NGINX_SITE = "nginx/etc/nginx/sites-available/app.conf.j2"
APACHE_SITE = "apache/etc/apache2/sites-available/app.conf.j2"


def test_the_nginx_site_passes_to_uwsgi_or_http_as_the_protocol_says():
    uwsgi = render(NGINX_SITE, nginx_upstream_protocol="uwsgi")
    assert "uwsgi_pass webapp_app;" in uwsgi and "proxy_pass" not in uwsgi
    http = render(NGINX_SITE, nginx_upstream_protocol="http")
    assert "proxy_pass http://webapp_app;" in http and "uwsgi_pass" not in http
    # Keep-alive to the upstream only where it is reached over TCP (several web hosts behind a load balancer).
    assert "proxy_http_version 1.1;" not in http
    balanced = render(NGINX_SITE, nginx_upstream_protocol="http", nginx_upstream_servers=["10.0.0.11:8080"])
    assert "proxy_http_version 1.1;" in balanced
    assert "server 10.0.0.11:8080" in balanced


def test_the_nginx_site_sends_hsts_and_the_security_headers():
    site = render(NGINX_SITE, nginx_hsts_max_age=600)
    assert 'add_header Strict-Transport-Security "max-age=600' in site
    for header in ("X-Content-Type-Options", "Content-Security-Policy", "Referrer-Policy"):
        assert header in site, header


def test_the_nginx_site_limits_both_usual_login_paths_by_default():
    site = render(NGINX_SITE)
    for path in ("/login", "/auth/login"):  # a plain Flask app's login, and a blueprint's (Flask's own tutorial)
        block = site.split(f"location {path} {{", 1)[1].split("}", 1)[0]
        assert "limit_req zone=webapp_limit" in block, path


def test_the_nginx_site_says_http2_as_its_version_understands_it():
    assert "listen 443 ssl http2;" in render(NGINX_SITE, __nginx_version="1.22.1")
    newer = render(NGINX_SITE, __nginx_version="1.26.0")
    assert "http2 on;" in newer and "ssl http2;" not in newer


def plain_http_server(site):
    return site.split("server {", 2)[1].split("\nserver {", 1)[0]


def test_the_nginx_site_serves_acme_challenges_over_plain_http_only_with_acme_on():
    plain = plain_http_server(render(NGINX_SITE, nginx_acme=True, nginx_https_port=8443))
    challenge = plain.split("location ^~ /.well-known/acme-challenge/ {", 1)[1].split("}", 1)[0]
    assert "root /var/www/acme;" in challenge
    # Everything else still moves to HTTPS (the port kept when it is not 443).
    assert "location / {\n        return 301 https://$host:8443$request_uri;" in plain
    without = plain_http_server(render(NGINX_SITE))
    assert "acme-challenge" not in without
    assert "    return 301 https://$host$request_uri;" in without


def test_a_load_balancer_that_follows_passes_the_challenges_to_the_issuing_one():
    plain = plain_http_server(render(NGINX_SITE, nginx_acme=True, nginx_acme_issuer="lb1",
                                     nginx_acme_issuer_address="10.0.0.5", inventory_hostname="lb2"))
    challenge = plain.split("location ^~ /.well-known/acme-challenge/ {", 1)[1].split("}", 1)[0]
    assert "proxy_pass http://10.0.0.5;" in challenge and "root" not in challenge
    issuer = plain_http_server(render(NGINX_SITE, nginx_acme=True, nginx_acme_issuer="lb1",
                                      nginx_acme_issuer_address="10.0.0.5", inventory_hostname="lb1"))
    assert "root /var/www/acme;" in issuer and "proxy_pass" not in issuer


def test_the_apache_site_serves_acme_challenges_over_plain_http_only_with_acme_on():
    plain = render(APACHE_SITE, apache_acme=True).split("</VirtualHost>", 1)[0]
    assert "Alias /.well-known/acme-challenge/ /var/www/acme/.well-known/acme-challenge/" in plain
    # The redirect to HTTPS skips the challenge path, and only it.
    rule = plain.index("RewriteRule ^ https://")
    assert plain.rindex("RewriteCond %{REQUEST_URI} !^/\\.well-known/acme-challenge/", 0, rule) > plain.index("Alias")
    without = render(APACHE_SITE).split("</VirtualHost>", 1)[0]
    assert "acme-challenge" not in without and "RewriteRule ^ https://" in without


def test_the_apache_site_proxies_to_uwsgi_or_http_as_the_protocol_says():
    assert "uwsgi://" in render(APACHE_SITE, apache_upstream_protocol="uwsgi")
    http = render(APACHE_SITE, apache_upstream_protocol="http")
    assert "uwsgi://" not in http and "http://" in http
    assert "Strict-Transport-Security" in http


def ini(text):
    parser = configparser.ConfigParser(interpolation=None, strict=False, inline_comment_prefixes=None)
    parser.read_string(text)
    return parser


def block(text, opening):
    """The lines of the block that `opening` starts (up to the first closing brace)."""
    return text.split(opening, 1)[1].split("}", 1)[0]


def test_the_nginx_site_compresses_static_files_and_the_apps_responses_only_when_asked():
    site = render(NGINX_SITE, nginx_backend_listen="10.0.0.11:8080")
    https, backend = site.split("listen 443 ssl", 1)[1].split("\nserver {", 1)
    for server in (https, backend):  # Debian's nginx.conf says gzip on: each server says otherwise
        assert "\n    gzip off;" in server and "gzip_types" in server
        assert "gzip on;\n        gzip_static on;" in block(server, "location /static/ {")
    asked = render(NGINX_SITE, nginx_compress_app_responses=True)
    assert "\n    gzip on;" in asked and "\n    gzip off;" not in asked


def test_the_apache_site_compresses_static_files_and_the_apps_responses_only_when_asked():
    site = render(APACHE_SITE)
    vhost, static = site.split("<Directory /srv/webapp/current/static>", 1)
    assert "\n    SetEnv no-gzip 1" in vhost and "AddOutputFilterByType" not in vhost
    static = static.split("</Directory>", 1)[0]
    assert "UnsetEnv no-gzip" in static and "AddOutputFilterByType DEFLATE text/html text/plain text/css" in static
    asked = render(APACHE_SITE, apache_compress_app_responses=True)
    assert "no-gzip" not in asked and asked.count("AddOutputFilterByType DEFLATE") == 1


def test_uwsgi_takes_its_processes_threads_and_queue_from_the_variables():
    settings = ini(render("uwsgi/etc/webstack/app/uwsgi.ini.j2", uwsgi_processes=6, uwsgi_threads=3,
                          uwsgi_listen=512))["uwsgi"]
    assert (settings["processes"], settings["threads"], settings["listen"]) == ("6", "3", "512")


def test_gunicorn_takes_its_worker_class_and_logs_requests_only_when_asked():
    conf = render("gunicorn/etc/webstack/app/gunicorn.conf.py.j2", gunicorn_worker_class="gthread")
    assert 'worker_class = "gthread"' in conf
    assert "accesslog = None" in conf
    compile(conf, "gunicorn.conf.py", "exec")
    logged = render("gunicorn/etc/webstack/app/gunicorn.conf.py.j2", gunicorn_access_log=True)
    assert "accesslog = None" not in logged


def test_pg_hba_lets_in_exactly_the_app_hosts_with_scram_and_rejects_the_rest():
    hba = render("postgresql/etc/postgresql/pg_hba.conf.j2", postgresql_client_addresses=["10.0.0.11", "fd00::5"])
    remote = [line.split() for line in hba.splitlines() if line.startswith("host")]
    allowed = {fields[3] for fields in remote if fields[-1] == "scram-sha-256"}
    assert allowed == {"127.0.0.1/32", "::1/128", "10.0.0.11/32", "fd00::5/128"}
    assert all(fields[1:3] == ["webapp", "webapp"] for fields in remote if fields[-1] == "scram-sha-256")
    # Anyone else, to any database, is turned away by the last lines, after every allowed one.
    assert [fields[3] for fields in remote[-2:]] == ["0.0.0.0/0", "::/0"]
    assert {fields[-1] for fields in remote[-2:]} == {"reject"}


def test_sshd_offers_the_guides_algorithms_that_this_openssh_knows():
    sshd = dict(line.split(" ", 1) for line in render(
        "hardening/etc/ssh/sshd_config.d/00-pyops-hardening.conf.j2").splitlines() if line and line[0] != "#")
    ciphers = sshd["Ciphers"].split(",")
    assert "chacha20-poly1305@openssh.com" in ciphers and "3des-cbc" not in ciphers
    assert "hmac-sha1" not in sshd["MACs"] and "ssh-rsa" not in sshd["HostKeyAlgorithms"].split(",")
    assert (sshd["PermitRootLogin"], sshd["PasswordAuthentication"]) == ("no", "no")
    given = render("hardening/etc/ssh/sshd_config.d/00-pyops-hardening.conf.j2", hardening_ssh_ciphers=["aes256-ctr"])
    assert "Ciphers aes256-ctr\n" in given


def test_the_default_celery_worker_consumes_the_queue_the_app_sends_to():
    # No --queues: Celery then consumes the app's own task_default_queue ("celery" unless the app names another).
    # A queue named after the app, as this role once set, left a standard app's tasks waiting for ever.
    variables = role_variables("celery")
    (worker,) = variables["celery_workers"]
    program = ini(render("celery/etc/supervisor/conf.d/celery-worker.conf.j2", celery_app="webapp.tasks", item=worker))
    (section,) = program.sections()
    command = " ".join(program[section]["command"].split())
    assert "--app webapp.tasks worker" in command and "--queues" not in command


def test_a_celery_worker_program_runs_its_own_queues_and_pool():
    program = ini(render("celery/etc/supervisor/conf.d/celery-worker.conf.j2", celery_app="webapp.tasks",
                         item={"name": "mail", "queues": ["mail", "slow"], "pool": "threads"}))
    (section,) = program.sections()
    assert section.endswith("mail")
    command = " ".join(program[section]["command"].split())
    assert "--queues mail,slow" in command and "--pool threads" in command and "--app webapp.tasks" in command


PGBACKREST_CONF = "pgbackrest/etc/pgbackrest.conf.j2"
PASSPHRASE = "a-passphrase-of-the-vault-0123"


def test_pgbackrest_keeps_the_passphrase_on_the_backup_host_and_each_side_names_the_other():
    sides = {"pgbackrest_db_host": "db1", "pgbackrest_repo_host": "backup1", "pgbackrest_db_address": "10.0.0.20",
             "pgbackrest_repo_address": "10.0.0.30", "pgbackrest_cipher_pass": PASSPHRASE,
             "hostvars": {"db1": {"__pgbackrest_pg_path": "/var/lib/postgresql/17/main"}}}
    repo = ini(render(PGBACKREST_CONF, inventory_hostname="backup1", **sides))
    db = ini(render(PGBACKREST_CONF, inventory_hostname="db1", __pgbackrest_pg_path="/var/lib/postgresql/17/main",
                    **sides))
    assert repo["global"]["repo1-cipher-type"] == "aes-256-cbc"
    assert repo["global"]["repo1-cipher-pass"] == PASSPHRASE
    assert repo["webapp"]["pg1-host"] == "10.0.0.20"
    assert repo["webapp"]["pg1-path"] == db["webapp"]["pg1-path"] == "/var/lib/postgresql/17/main"
    assert db["global"]["repo1-host"] == "10.0.0.30"
    assert PASSPHRASE not in str({name: dict(section) for name, section in db.items()})


def test_pgbackrest_keeps_an_s3_repository_s_keys_on_the_backup_host_only():
    sides = {"pgbackrest_db_host": "db1", "pgbackrest_repo_host": "backup1", "pgbackrest_db_address": "10.0.0.20",
             "pgbackrest_repo_address": "10.0.0.30", "pgbackrest_cipher_pass": PASSPHRASE,
             "pgbackrest_repo_type": "s3", "pgbackrest_repo_path": "/webapp", "pgbackrest_s3_bucket": "backups",
             "pgbackrest_s3_endpoint": "s3.example.org", "pgbackrest_s3_region": "eu-1",
             "pgbackrest_s3_key": "AKEY", "pgbackrest_s3_key_secret": "s3-secret-0123", "pgbackrest_s3_uri_style": "path",
             "hostvars": {"db1": {"__pgbackrest_pg_path": "/var/lib/postgresql/17/main"}}}
    repo = ini(render(PGBACKREST_CONF, inventory_hostname="backup1", **sides))["global"]
    assert {key: repo[key] for key in repo if key.startswith("repo1-")} == {
        "repo1-type": "s3", "repo1-s3-bucket": "backups", "repo1-s3-endpoint": "s3.example.org",
        "repo1-s3-region": "eu-1", "repo1-s3-key": "AKEY", "repo1-s3-key-secret": "s3-secret-0123",
        "repo1-s3-uri-style": "path", "repo1-path": "/webapp", "repo1-retention-full": "2",
        "repo1-cipher-type": "aes-256-cbc", "repo1-cipher-pass": PASSPHRASE}
    db = render(PGBACKREST_CONF, inventory_hostname="db1", __pgbackrest_pg_path="/var/lib/postgresql/17/main", **sides)
    assert "s3" not in db and "repo1-host=10.0.0.30" in db
    posix = ini(render(PGBACKREST_CONF, inventory_hostname="backup1", **{**sides, "pgbackrest_repo_type": "posix"}))
    assert "repo1-type" not in posix["global"] and "repo1-s3-key" not in posix["global"]


def test_postgresql_archives_only_with_a_command_and_quotes_it():
    conf = "postgresql/etc/postgresql/pyops-webstack.conf.j2"
    assert "archive" not in render(conf)
    archiving = render(conf, postgresql_archive_command="pgbackrest --stanza=web's archive-push %p")
    assert "archive_mode = on" in archiving
    assert "archive_command = 'pgbackrest --stanza=web''s archive-push %p'" in archiving
    assert "archive_timeout = 60" in archiving


def test_a_failed_backup_calls_the_webhook_only_when_there_is_one():
    unit = "pgbackrest/etc/systemd/system/pgbackrest-backup@.service.j2"
    assert "ExecStopPost" not in render(unit, pgbackrest_notify_url="")
    told = ini(render(unit, pgbackrest_notify_url="https://hooks.example.org/t0ken"))["Service"]
    assert told["ExecStopPost"] == "/usr/local/lib/pgbackrest-notify %i"
    assert told["EnvironmentFile"] == "/etc/default/pgbackrest-notify"
    assert "t0ken" not in str(dict(told))
