#!/usr/bin/env bash
# Run molecule scenarios, JOBS at a time: tests/harness/run-scenarios.sh JOBS SCENARIO...
# Each scenario's full output goes to .cache/logs/<scenario>.log; a failed one is printed whole.
set -uo pipefail
jobs=$1
shift
logs=${PYOPS_CACHE_DIR:-.cache}/logs
mkdir -p "$logs"

run_one() {
  local scenario=$1 log="$logs/$1.log" start rc
  start=$(date +%s)
  echo "molecule: $scenario started"
  molecule test -s "$scenario" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "molecule: $scenario passed in $(($(date +%s) - start)) s"
    # The verifier's pytest summary, so the counts show in CI's output.
    grep -E '^=+ .*(passed|failed).* =+$' "$log" | tail -n 1
  else
    echo "molecule: $scenario FAILED after $(($(date +%s) - start)) s; its log follows"
    cat "$log"
  fi
  return $rc
}
export -f run_one
export logs

printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
