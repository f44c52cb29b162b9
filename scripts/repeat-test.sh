#!/usr/bin/env bash
# Runs test files N times in a row, each time in a fresh vitest process, and stops at the first
# run that fails. A process that aborts (a crashed vitest worker) fails its run, so this is how to
# show that a rare crash is gone, e.g. threads retired mid-onnxruntime-call:
#   npm run test:repeat -- 100 test/hardening/fault-scoring.test.ts
#   npm run test:repeat -- 20 test/hardening/fault-training.test.ts
# Passing runs print one line each; a failing run keeps its full log and prints where it is.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_node20
times=${1:-}
[[ "$times" =~ ^[1-9][0-9]*$ ]] || fail "usage: scripts/repeat-test.sh <times> <test file>... (times must be a positive integer, got '${times}')"
shift
[[ $# -gt 0 ]] || fail "usage: scripts/repeat-test.sh <times> <test file>... (no test file given)"
bash "$root/scripts/services.sh" start --quiet || exit 1
cd "$root"
log=$(mktemp -t vigil-repeat.XXXXXX)
started=$SECONDS
for ((run = 1; run <= times; run++)); do
  began=$SECONDS
  if node_modules/.bin/vitest run "$@" >"$log" 2>&1; then
    echo "run $run/$times passed ($((SECONDS - began)) s)"
  else
    echo "run $run/$times FAILED after $((SECONDS - began)) s; full log: $log" >&2
    grep -a -m 5 -E "terminate called|exited unexpectedly|FAIL|AssertionError" "$log" >&2
    exit 1
  fi
done
rm -f "$log"
echo "all $times runs of $* passed in $((SECONDS - started)) s"
