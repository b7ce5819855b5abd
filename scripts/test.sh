#!/usr/bin/env bash
# The test command: lint (ruff, ansible-lint production profile), ansible-test sanity, then pytest
# (unit, sandbox, and integration tests that run the real ansible-playbook against the real sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
bash scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$REPO/.collections"

step() { printf '\n== %s\n' "$*"; }

step "ruff"
ruff check .

step "ansible-lint (production profile, offline)"
ansible-lint --offline --profile production --nocolor

step "ansible-test sanity (python 3.11)"
# ansible-test downloads get-pip from a host these machines cannot reach: use the offline stand-in.
AT_DIR=$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
PIP_VER=$(python - "$AT_DIR" <<'PY'
import re, sys
text = open(sys.argv[1] + "/_internal/python_requirements.py", encoding="utf-8").read()
print(re.search(r"pip='([0-9.]+)'", text).group(1))
PY
)
BOOTSTRAP_CACHE=~/.ansible/test/cache/get_pip_${PIP_VER//./_}.py
STAND_IN="$REPO/../shared/tools/ansible_test_pip_bootstrap.py"
if [ ! -s "$BOOTSTRAP_CACHE" ]; then
  if [ -f "$STAND_IN" ]; then
    mkdir -p "$(dirname "$BOOTSTRAP_CACHE")"
    install -m 0644 "$STAND_IN" "$BOOTSTRAP_CACHE"
  else
    echo "note: $STAND_IN not found; ansible-test will try to download get-pip itself" >&2
  fi
fi
# ansible-test wants a real directory named ansible_collections/<ns>/<name>, not a symlink.
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
COLL="$STAGE/ansible_collections/matbakh/hybrid_routing"
mkdir -p "$COLL"
git ls-files -z --cached --others --exclude-standard \
  | grep -zvE '^(sandbox|scripts|\.ci)/' \
  | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$COLL"
(cd "$COLL" && ansible-test sanity --requirements --python 3.11 --color no)

step "pytest"
python -m pytest -q -p no:cacheprovider "$@"

step "ansible-core 2.18 compatibility (Level 1 end to end with the older core)"
if [ ! -x .venv-ansible218/bin/ansible-playbook ]; then
  python3 -m venv .venv-ansible218
  .venv-ansible218/bin/python -m pip install --quiet --disable-pip-version-check "ansible-core>=2.18,<2.19" -r requirements.txt
fi
HR_ANSIBLE_BIN="$REPO/.venv-ansible218/bin" python -m pytest -q -p no:cacheprovider tests/integration/test_level1.py \
  -k "check_real_check_real or wrong_token or fqcn"
