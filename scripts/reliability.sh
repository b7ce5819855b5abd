#!/usr/bin/env bash
# The reliability suite (issue 11; docs/reliability.md): faults, kill -9, concurrency, bad input and the API
# contract, secrets at -vvv, load. Each case records its figures; the table is printed at the end.
#   bash scripts/reliability.sh                 # short mode (what the test command runs, about 8 min on 2 cores)
#   bash scripts/reliability.sh --full          # every fault on every level, 20 kill points per level (~30 min)
#   bash scripts/reliability.sh --full --write  # ... and replace the table in docs/reliability.md
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
mode=short select="reliability and not full" write=""
while [ $# -gt 0 ]; do
  case "$1" in
    --full) mode=full select="reliability" ;;
    --write) write="--write docs/reliability.md" ;;
    *) break ;;
  esac
  shift
done
bash scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"
results=$(mktemp -t reliability-XXXXXX.jsonl)
export HR_RELIABILITY_RESULTS="$results"
status=0
python -m pytest -q -p no:cacheprovider -n "${HR_TEST_WORKERS:-2}" --dist worksteal -m "$select" tests/integration tests/sandbox/test_sandbox_schemathesis.py "$@" || status=$?
# shellcheck disable=SC2086 # $write is empty or two words
python tests/integration/reliability.py render "$results" --mode "$mode" $write
rm -f "$results"
exit "$status"
