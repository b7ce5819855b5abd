#!/usr/bin/env bash
# The checks Galaxy and Automation Hub run on upload, on the tarball `ansible-galaxy collection build` makes, and
# the Ansible docs toolchain's lint of every module and role. Used by scripts/test.sh; handy alone.
#
# galaxy-importer runs with what Automation Hub turns on beyond Galaxy's defaults (required tags, changelog,
# flake8 on every plugin), except REQUIRE_V1_OR_GREATER: Automation Hub refuses versions below 1.0.0, so the first
# upload there is the 1.0.0 release. ansible-test sanity, which the importer can only run in a container, is a
# step of scripts/test.sh already (scripts/sanity.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export PATH="$REPO/.venv/bin:$PATH"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
COLL="$WORK/ansible_collections/matbakh/hybrid_routing"
mkdir -p "$COLL"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$COLL"

ansible-galaxy collection build "$COLL" --output-path "$WORK" >/dev/null
TARBALL=$(ls "$WORK"/matbakh-hybrid_routing-*.tar.gz)
echo "built $(basename "$TARBALL")"

cat > "$WORK/importer.cfg" <<'CFG'
[galaxy-importer]
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
RUN_ANSIBLE_TEST = False
RUN_FLAKE8 = True
CHECK_REQUIRED_TAGS = True
CHECK_CHANGELOG = True
REQUIRE_V1_OR_GREATER = False
CFG
# The importer prints what it finds; any warning about the collection is a failure here. It writes
# importer_result.json into its working directory: that is the scratch directory, not the repository.
(cd "$WORK" && GALAXY_IMPORTER_CONFIG="$WORK/importer.cfg" python -m galaxy_importer.main "$TARBALL") \
  > "$WORK/importer.log" 2>&1 || { cat "$WORK/importer.log"; echo "galaxy-importer refused the collection" >&2; exit 1; }
if grep -E "^(WARNING|ERROR)" "$WORK/importer.log"; then
  echo "galaxy-importer warned about the collection (above)" >&2
  exit 1
fi
grep -q "Importer processing completed successfully" "$WORK/importer.log"
echo "galaxy-importer: accepted, no warning"

(cd "$COLL" && antsibull-docs lint-collection-docs --plugin-docs .)
echo "antsibull-docs lint-collection-docs --plugin-docs: clean"
