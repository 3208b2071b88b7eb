"""The stack scenario's container names; the helpers its tests use live in molecule/estate.py."""

LB = "stack-lb"
WEB = ["stack-web1", "stack-web2"]
WORKER = "stack-worker"
DATA = "stack-data"
