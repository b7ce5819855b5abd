#!/usr/bin/env bash
# Create .venv with the runtime and dev requirements and make this checkout the collection matbakh.hybrid_routing
# of that virtualenv: a link in its site-packages/ansible_collections/, where PyPI's `ansible` puts the collections
# it carries. Ansible looks there from any directory (collections on sys.path), so the checkout is found the way
# an installed collection is: by ansible-playbook run from here or elsewhere, by ansible-rulebook's temporary
# project directories, by molecule and ansible-runner. No ANSIBLE_CONFIG or ANSIBLE_COLLECTIONS_PATH is needed.
#   bash scripts/setup.sh                 # .venv, then the link
#   bash scripts/setup.sh --link VENV     # only the link, into another virtualenv (e.g. one with an older core)
set -euo pipefail
# This checkout: where this file really is (a view of the clone that links scripts/ must not become the collection).
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
REPO=$(pwd -P)
PYTHON=${PYTHON:-python3}

link_collection() {
  local venv=$1 site
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  mkdir -p "$site/ansible_collections/matbakh"
  ln -sfn "$REPO" "$site/ansible_collections/matbakh/hybrid_routing"
}

if [ "${1:-}" = "--link" ]; then
  [ -x "${2:-}/bin/python" ] || { echo "error: --link needs a virtualenv directory (got '${2:-}')" >&2; exit 2; }
  link_collection "$2"
  exit 0
fi

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

link_collection .venv
# The link of earlier versions (.collections/, through ansible.cfg): gone, so that one copy is found, not two.
if [ -L .collections/ansible_collections/matbakh/hybrid_routing ]; then
  rm -rf .collections
fi
# Another matbakh.hybrid_routing earlier on the collections path (e.g. ansible-galaxy installed one into
# ~/.ansible/collections) would be run instead of this checkout: say so.
found=$(cd / && "$REPO/.venv/bin/ansible-galaxy" collection list matbakh.hybrid_routing 2>/dev/null | sed -n 's/^# //p')
first=$(printf '%s\n' "$found" | head -n 1)
if [ -n "$first" ] && [ "$(cd "$first/matbakh/hybrid_routing" 2>/dev/null && pwd -P)" != "$(pwd -P)" ]; then
  echo "setup: warning: $first/matbakh/hybrid_routing comes first on the collections path, so Ansible runs that" \
       "copy, not this checkout; remove it (or its collections path) to run this one" >&2
fi
