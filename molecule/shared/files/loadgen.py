#!/usr/bin/env python3
"""Bounded HTTP load generator for the tests: a unix socket, or a port on 127.0.0.1 (HTTP or HTTPS), nothing else.

    loadgen.py --socket /srv/webapp/run/live.sock --requests 3000 --seconds 60 --concurrency 8 --path /healthz

Sends at most --requests requests (each on a new connection, as a proxy without keep-alive would) and stops
after --seconds whatever happens, or earlier once --stop-file exists and --at-least requests have left. Prints one JSON
object: counts by status, connection errors, the versions seen in JSON answers, and the first few errors.
"""

import argparse
import collections
import http.client
import json
import os
import socket
import ssl
import threading
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def main():
    parser = argparse.ArgumentParser()
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--socket")
    target.add_argument("--port", type=int, help="a port on 127.0.0.1")
    parser.add_argument("--tls", action="store_true", help="HTTPS to --port (the test certificate is not checked)")
    parser.add_argument("--host-header", default="localhost")
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--rate", type=float, default=0, help="requests per second in all (0: as fast as it can)")
    parser.add_argument("--ready-file", help="touched once the first answer arrived")
    parser.add_argument("--stop-file", help="stop early once this file exists")
    parser.add_argument("--at-least", type=int, default=0, help="the stop file counts only once this many requests "
                        "have left (--seconds still bounds the run)")
    args = parser.parse_args()

    lock = threading.Lock()
    statuses = collections.Counter()
    versions = collections.Counter()
    errors = []
    # (seconds into the run when the request left, milliseconds until its answer or error)
    latencies = []
    failed_at = []  # seconds into the run when each request that failed (error or not 2xx) left
    remaining = [args.requests]
    started = time.monotonic()
    started_epoch = time.time()  # to place the slowest requests against other clocks (a playbook's task times)
    deadline = started + args.seconds

    def connection():
        if args.socket:
            return UnixHTTPConnection(args.socket, args.timeout)
        if args.tls:
            return http.client.HTTPSConnection("127.0.0.1", args.port, timeout=args.timeout,
                                               context=ssl._create_unverified_context())
        return http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] <= 0:
                    return
                if (args.stop_file and args.requests - remaining[0] >= args.at_least
                        and os.path.exists(args.stop_file)):
                    return
                remaining[0] -= 1
                if args.rate:
                    # Pace the whole run: request number n leaves no earlier than n / rate seconds in.
                    due = started + (args.requests - remaining[0]) / args.rate
            if args.rate and due > time.monotonic():
                time.sleep(due - time.monotonic())
            conn = connection()
            sent_at = time.monotonic()
            try:
                conn.request("GET", args.path, headers={"Connection": "close", "Host": args.host_header})
                response = conn.getresponse()
                body = response.read()
                status = str(response.status)
                try:
                    version = json.loads(body).get("version")
                except ValueError:
                    version = None
            except (OSError, http.client.HTTPException) as error:
                status, version = "error", None
                with lock:
                    if len(errors) < 5:
                        errors.append(f"{type(error).__name__}: {error}")
            finally:
                conn.close()
            took = (time.monotonic() - sent_at) * 1000
            with lock:
                latencies.append((round(sent_at - started, 2), round(took, 1)))
                statuses[status] += 1
                if not status.startswith("2"):
                    failed_at.append(round(sent_at - started, 2))
                if version:
                    versions[version] += 1
                if args.ready_file and sum(statuses.values()) == 1:
                    open(args.ready_file, "w").close()

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = sum(statuses.values())
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    ordered = sorted(took for _, took in latencies)

    def percentile(share):
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None

    print(json.dumps({
        "sent": sent,
        "ok": ok,
        "non_2xx": sent - ok - statuses.get("error", 0),
        "connection_errors": statuses.get("error", 0),
        "statuses": dict(statuses),
        "versions": dict(versions),
        "seconds": round(time.monotonic() - started, 2),
        "started_epoch": round(started_epoch, 3),
        "first_errors": errors,
        # When the failed requests left: the first and the last (seconds into the run), or null.
        "failed_between_s": [min(failed_at), max(failed_at)] if failed_at else None,
        "latency_ms": {"p50": percentile(0.50), "p99": percentile(0.99), "max": ordered[-1] if ordered else None},
        "slowest": [{"at_s": at, "ms": took} for at, took in sorted(latencies, key=lambda item: -item[1])[:5]],
    }))


if __name__ == "__main__":
    main()
