#!/usr/bin/env bash
# Build the collection's tarball from this checkout into build/ (what the execution environment installs, so that
# the EE carries exactly the project's version and builds without Galaxy):
#   bash scripts/build_collection.sh            # -> build/matbakh-hybrid_routing-<version>.tar.gz
# Only the files git knows are packed (galaxy.yml's build_ignore then drops the development ones).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PATH="$REPO/.venv/bin:$PATH"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
COLL="$WORK/ansible_collections/matbakh/hybrid_routing"
mkdir -p "$COLL" "$REPO/build"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$COLL"
ansible-galaxy collection build "$COLL" --output-path "$REPO/build" --force >/dev/null
ls "$REPO"/build/matbakh-hybrid_routing-*.tar.gz
