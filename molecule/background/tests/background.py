"""The background scenario's container names and the inventory's test passwords its tests check."""

WEB = "bg-web"  # a web host that is also a worker host, and the first of the worker group: beat runs here
WORKER = "bg-worker"  # also the backup host (group backup: pgBackRest's repository)
WORKERS = [WEB, WORKER]
DATA = "bg-data"
BROKER_PASSWORD = "bg-mq-pass-2f7a58"
DB_PASSWORD = "bg-pg-pass-6e0d4b"
