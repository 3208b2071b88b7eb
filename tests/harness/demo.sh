#!/usr/bin/env bash
# make demo / demo-deploy / demo-destroy: the demo estate in local containers (molecule scenario "demo").
#   demo.sh up        create and converge, then prove the page works
#   demo.sh deploy V  ship version V (default v2.0.0) with the blue/green switch
#   demo.sh destroy   remove it
set -euo pipefail
url=https://127.0.0.1:8443/
state=.cache/molecule/demo

prove() {
  local cert
  cert=$(mktemp)
  trap 'rm -f "$cert"' RETURN
  docker exec demo-web cat /etc/ssl/webstack/webapp.crt >"$cert"
  echo
  echo "demo: $url (self-signed certificate; curl --cacert <(docker exec demo-web cat /etc/ssl/webstack/webapp.crt) $url)"
  echo "demo: GET / answers:"
  curl -sS --fail --cacert "$cert" "$url" | sed -n 's/.*<span id="version">\(.*\)<\/span>.*/  webapp version \1/p; s/^ *<p>\(.*job(s) recorded\.\)<\/p>/  \1/p'
  echo "demo: GET /healthz answers: $(curl -sS --fail --cacert "$cert" "${url}healthz")"
}

case "${1:-up}" in
  up)
    molecule create -s demo
    molecule converge -s demo
    prove
    echo "demo: not in the demo yet: Celery workers, RabbitMQ and PostgreSQL (their roles are still to come)."
    ;;
  deploy)
    version=${2:-v2.0.0}
    test -d "$state" || { echo "demo: no demo is running; make demo first" >&2; exit 1; }
    molecule converge -s demo -- --extra-vars "python_app_version=$version"
    prove
    ;;
  destroy)
    molecule destroy -s demo
    ;;
  *)
    echo "usage: $0 up|deploy [VERSION]|destroy" >&2
    exit 2
    ;;
esac
