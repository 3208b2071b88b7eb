"""Helpers of the scenarios that run the whole reference app with its broker and database (stack, background):
requests through a web host's nginx, jobs, SQL on the database host, the broker's users, the release's Python."""

import json
import time

import testinfra

ROOT = "/srv/webapp"
CURL = "curl --silent --show-error --insecure --max-time 20"
# The supervisor program of a web host's live colour (the one run/live.sock points at), for a shell command line.
LIVE_PROGRAM = f"webapp-$(basename $(readlink {ROOT}/run/live.sock) .sock)"


def get_host(inventory, name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)


def fetch(web, path):
    """GET a path through the web host's nginx over HTTPS; (status, body)."""
    out = web.check_output(f"{CURL} --write-out '\\n%{{http_code}}' https://localhost{path}")
    body, _, status = out.rpartition("\n")
    return int(status), body


def health(web):
    status, body = fetch(web, "/healthz")
    assert status == 200, body
    return json.loads(body)


def post_job(web, key, delay=0.0):
    out = web.check_output(
        f"{CURL} -X POST -H 'Content-Type: application/json' "
        f"--data '{json.dumps({'key': key, 'delay': delay})}' https://localhost/jobs"
    )
    return json.loads(out)


def until(read, ready, seconds, interval=1.0):
    """Call read() until ready(value) is true or `seconds` have passed; the last value read."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_for_job(web, job_id, seconds=120):
    def read():
        status, body = fetch(web, f"/jobs/{job_id}")
        return json.loads(body) if status == 200 else {}

    return until(read, lambda job: job.get("status") == "done", seconds)


def sql(data, query, database="webapp"):
    """Run a query as postgres on the database host; the rows as lists of strings."""
    out = data.check_output(f"runuser -u postgres -- psql -d {database} -AtF '|' -c {json.dumps(query)}")
    return [line.split("|") for line in out.splitlines() if line]


def live_release(host):
    return host.check_output(f"basename $(readlink {ROOT}/current)")


def running_colours(web):
    """The colours (blue, green) whose app server supervisor runs on a web host."""
    lines = web.check_output("supervisorctl status webapp-blue webapp-green || true").splitlines()
    return [line.split()[0].removeprefix("webapp-") for line in lines if " RUNNING " in line]


def live_colour(web):
    """The colour behind run/live.sock."""
    return web.check_output(f"echo {LIVE_PROGRAM}").removeprefix("webapp-")


def app_server(web, action):
    """supervisorctl ACTION on the web host's live colour (the program behind run/live.sock); its output."""
    return web.check_output(f"supervisorctl {action} {LIVE_PROGRAM}")


def worker_pids(worker):
    """PIDs of the default worker's main process (the one supervisor started)."""
    out = worker.check_output("supervisorctl pid webapp-celery-default")
    return out.strip()


def address(host):
    return host.check_output("hostname -I").split()[0]


def connect(client, server, port):
    """Open a TCP connection from client to server's address: "open", "refused" (nothing listens, or a reject) or
    "dropped" (no answer within 5 s: a firewall threw the packets away)."""
    rc = client.run(f"timeout 5 bash -c '</dev/tcp/{address(server)}/{port}'").rc
    return {0: "open", 1: "refused", 124: "dropped"}.get(rc, f"rc {rc}")


def listening(host, port):
    """Whether a program on the host listens on this TCP port, on any address."""
    return any(line.split()[3].rsplit(":", 1)[1] == str(port) for line in host.check_output("ss -Hltn").splitlines())


def access_count(web):
    """Requests this web host's nginx has logged so far."""
    return int(web.check_output("cat /var/log/nginx/access.log | wc -l"))


def env_value(host, name):
    return host.check_output(f"sh -c '. {ROOT}/shared/env; printf %s \"${name}\"'")


def run_in_release(host, code, *args):
    """Run Python code with the live release's interpreter, as the deploy user, in the app's environment."""
    host.check_output(f"cat > /tmp/check.py <<'PY'\n{code}PY")
    return host.check_output(
        f"runuser -u deploy -- sh -c 'set -a; . {ROOT}/shared/env; set +a; "
        f"{ROOT}/current/.venv/bin/python /tmp/check.py {' '.join(args)}'"
    )


def authenticates(data, user, password):
    """Whether RabbitMQ on the data host takes this user and password."""
    return data.run(f"rabbitmqctl --quiet authenticate_user {user} {json.dumps(password)}").rc == 0
