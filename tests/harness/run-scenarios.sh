#!/usr/bin/env bash
# Run molecule scenarios, JOBS at a time: tests/harness/run-scenarios.sh JOBS SCENARIO...
# Each scenario's full output goes to .cache/logs/<scenario>.log; a failed one is printed whole, and its failures
# again at the very end (CI may show only the head and tail of a long output).
set -uo pipefail
jobs=$1
shift
logs=${PYOPS_CACHE_DIR:-.cache}/logs
mkdir -p "$logs"
rm -f "$logs"/*.failed

# "create 41 s, converge 310 s, ...": each molecule step's seconds, from the stamped lines of a scenario's log.
phases() {
  # A step may say "Executing" twice before "Executed" (verify names its tests); destroy runs first and last.
  sed -n 's/^\[ *\([0-9]*\)s\] .*> \([a-z_]*\)\] Execut\(ing\|ed\).*/\1 \2 \3/p' "$1" | awk '
    $3 == "ing" && open != $2 { open = $2; began = $1 }
    $3 == "ed" && open == $2 { printf "%s%s %d s", (out++ ? ", " : ""), $2, $1 - began; open = "" }'
}

run_one() {
  local scenario=$1 log="$logs/$1.log" start rc
  start=$(date +%s)
  echo "molecule: $scenario started"
  # Molecule's own step lines ("[stack > converge] Executing") get the seconds since the start, for phases().
  molecule test -s "$scenario" 2>&1 | while IFS= read -r line; do
    case $line in
      *"] Executing"* | *"] Executed"*) printf '[%5ss] %s\n' "$(($(date +%s) - start))" "$line" ;;
      *) printf '%s\n' "$line" ;;
    esac
  done >"$log"
  rc=${PIPESTATUS[0]}
  if [ $rc -eq 0 ]; then
    echo "molecule: $scenario passed in $(($(date +%s) - start)) s ($(phases "$log"))"
    # The verifier's pytest summary, so the counts show in CI's output.
    grep -E '^=+ .*(passed|failed).* =+$' "$log" | tail -n 1
  else
    echo "molecule: $scenario FAILED after $(($(date +%s) - start)) s; its log follows"
    cat "$log"
    touch "$logs/$scenario.failed"
  fi
  return $rc
}
export -f run_one phases
export logs

# The failures of a failed scenario: pytest's one-line summaries, then the last assertion lines (where the
# compared values are) or Ansible's failed tasks.
failures() {
  grep -E '^(FAILED|ERROR) ' "$1" | head -n 20
  grep -E '^(E   |fatal: |failed: )' "$1" | tail -n 40
}

printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
rc=$?
for marker in "$logs"/*.failed; do
  [ -e "$marker" ] || continue
  scenario=$(basename "$marker" .failed)
  echo "molecule: $scenario failed; its failures, from $logs/$scenario.log:"
  failures "$logs/$scenario.log"
done
exit $rc
