#!/usr/bin/env bash
# The test command: lint (ruff, ansible-lint production profile), ansible-test sanity, then pytest
# (unit, sandbox, and integration tests that run the real ansible-playbook against the real sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
# --full: also the slow cases (marker `full`, e.g. every level at every latency); the default run deselects them.
select=(-m "not full and not alone")
if [ "${1:-}" = "--full" ]; then
  select=(-m "not alone")
  shift
fi
bash scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "ruff"
ruff check .

step "ansible-lint (production profile, offline)"
ansible-lint --offline --profile production --nocolor

step "ansible-test sanity (python 3.11)"
bash scripts/sanity.sh

step "publishable: galaxy-importer (Galaxy / Automation Hub upload checks) and antsibull-docs lint"
bash scripts/publish_check.sh

step "pytest"
# Two workers (the machines have 2 cores): the integration tests mostly wait on ansible-playbook and the sandbox.
# Each worker starts its own sandbox and moto on free ports. worksteal: tests/conftest.py puts the slowest files
# first, and a worker that runs out of tests takes over the other's unstarted ones (no idle worker at the end).
# The reliability suite's short mode runs here too
# (marker reliability; `bash scripts/reliability.sh --full` runs it all); its cases record their figures.
HR_RELIABILITY_RESULTS=$(mktemp -t reliability-XXXXXX.jsonl)
export HR_RELIABILITY_RESULTS
python -m pytest -q -p no:cacheprovider --durations=25 -n "${HR_TEST_WORKERS:-2}" --dist worksteal "${select[@]}" "$@"

step "reliability suite, short mode: the table (docs/reliability.md has the full mode's)"
python tests/integration/reliability.py render "$HR_RELIABILITY_RESULTS" --mode short
rm -f "$HR_RELIABILITY_RESULTS"
unset HR_RELIABILITY_RESULTS

step "timing goals, measured alone (marker alone: evaluating the trigger rules of 50 environments)"
python -m pytest -q -s -p no:cacheprovider -m alone tests/integration

step "benchmark, short mode (fails when a goal of docs/performance.md is missed)"
python benchmarks/bench.py --short

step "ansible-core 2.18 compatibility (Level 1 end to end with the older core)"
if [ ! -x .venv-ansible218/bin/ansible-playbook ]; then
  python3 -m venv .venv-ansible218
  .venv-ansible218/bin/python -m pip install --quiet --disable-pip-version-check "ansible-core>=2.18,<2.19" -r requirements.txt
fi
bash scripts/setup.sh --link .venv-ansible218
HR_ANSIBLE_BIN="$REPO/.venv-ansible218/bin" python -m pytest -q -p no:cacheprovider tests/integration/test_level1.py \
  -k "check_real_check_real or wrong_token or fqcn"
