#!/usr/bin/env bash
# ansible-test sanity from a staged ansible_collections/matbakh/hybrid_routing copy (it refuses symlinks and
# paths outside such a tree). Used by scripts/test.sh; handy alone while editing.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export PATH="$REPO/.venv/bin:$PATH"

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

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
COLL="$STAGE/ansible_collections/matbakh/hybrid_routing"
mkdir -p "$COLL"
git ls-files -z --cached --others --exclude-standard \
  | grep -zvE '^(sandbox|scripts|\.ci)/' \
  | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$COLL"
cd "$COLL" && ansible-test sanity --requirements --python 3.11 --color no "$@"
