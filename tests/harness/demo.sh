#!/usr/bin/env bash
# make demo / demo-deploy / demo-destroy: the demo estate in local containers (molecule scenario "demo").
#   demo.sh up        create and converge, then prove the page works
#   demo.sh deploy V  ship version V (default v2.0.0) with playbooks/deploy.yml and inventories/demo
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
  local job id status=queued
  job=$(curl -sS --fail --cacert "$cert" -X POST -H 'Content-Type: application/json' --data '{"delay": 0.5}' "${url}jobs")
  id=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "$job")
  echo "demo: POST /jobs queued job $id for Celery (through RabbitMQ, recorded in PostgreSQL)"
  for _ in $(seq 60); do
    job=$(curl -sS --fail --cacert "$cert" "${url}jobs/$id")
    status=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["status"])' "$job")
    [ "$status" = done ] && break
    sleep 1
  done
  echo "demo: GET /jobs/$id answers: $job"
  [ "$status" = done ] || { echo "demo: the Celery task did not finish" >&2; return 1; }
  echo "demo: open $url"
}

case "${1:-up}" in
  up)
    molecule create -s demo
    molecule converge -s demo
    prove
    ;;
  deploy)
    version=${2:-v2.0.0}
    test -d "$state" || { echo "demo: no demo is running; make demo first" >&2; exit 1; }
    ansible-playbook playbooks/deploy.yml -i inventories/demo --extra-vars "python_app_version=$version"
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
