#!/usr/bin/env bash
# Build the collection's tarball from this checkout into build/ (what the execution environment installs, so that
# the EE carries exactly the project's version and builds without Galaxy):
#   bash scripts/build_collection.sh            # -> build/matbakh-hybrid_routing-<version>.tar.gz
# Only the files git knows are packed (galaxy.yml's build_ignore then drops the development ones); outside a git
# checkout (an unpacked copy), every file but the top-level entries build_ignore names, symbolic links followed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PATH="$REPO/.venv/bin:$PATH"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
COLL="$WORK/ansible_collections/matbakh/hybrid_routing"
mkdir -p "$COLL" "$REPO/build"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$COLL"
else
  python - "$REPO" "$COLL" <<'PY'
import fnmatch, shutil, sys
from pathlib import Path
import yaml
source, target = Path(sys.argv[1]), Path(sys.argv[2])
ignore = yaml.safe_load((source / "galaxy.yml").read_text()).get("build_ignore") or []
for entry in sorted(source.iterdir()):
    if any(fnmatch.fnmatch(entry.name, pattern) for pattern in ignore):
        continue
    if entry.is_dir():
        shutil.copytree(entry, target / entry.name, symlinks=False)
    else:
        shutil.copy2(entry, target / entry.name)
PY
fi
ansible-galaxy collection build "$COLL" --output-path "$REPO/build" --force >/dev/null
ls "$REPO"/build/matbakh-hybrid_routing-*.tar.gz
