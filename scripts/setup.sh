#!/usr/bin/env bash
# Create .venv with the runtime and dev requirements and expose this checkout as the collection
# matbakh.hybrid_routing under .collections/ (ansible.cfg puts that on the collections path).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

mkdir -p .collections/ansible_collections/matbakh
ln -sfn ../../.. .collections/ansible_collections/matbakh/hybrid_routing
