"""The stack scenario's container names; the helpers its tests use live in molecule/estate.py."""

LB = "stack-lb"
# The second load balancer: it follows the first one's ACME certificate.
LB2 = "stack-lb2"
WEB = ["stack-web1", "stack-web2"]
WORKER = "stack-worker"
DATA = "stack-data"
