#!/usr/bin/env bash
# The seed's rollback script, kept for muscle memory and existing pager runbooks: it runs the matching playbook.
#   scripts/hybrid-routing-rollback.sh [--dry-run] LEVEL [--env ENV] [-- ANSIBLE-PLAYBOOK ARGS...]
#   LEVEL: 1, 2, 3 or forward; ENV: the name of an inventory under inventories/, or a path to one with a / in it
#   (./my-inventory; default: $HYBRID_ROUTING_ENV,
#   else prod: what the seed's script acted on, so that existing pager runbooks keep their meaning).
#   e.g. scripts/hybrid-routing-rollback.sh 2 --env prod -- -e hybrid_routing_requester=alice -e hybrid_routing_approver=mark
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [--dry-run] LEVEL [--env ENV] [-- ANSIBLE-PLAYBOOK ARGS...]" >&2
  echo "  LEVEL: 1 (feature flags), 2 (also MCP-only traffic), 3 (also the release reverted) or forward" >&2
  echo "  ENV: an inventory under inventories/, or a path to one with a / in it (default: \$HYBRID_ROUTING_ENV, else prod)" >&2
  exit 2
}

dry_run=0 level="" env="${HYBRID_ROUTING_ENV:-prod}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --env) [ $# -ge 2 ] || { echo "error: --env needs an environment" >&2; usage; }; env="$2"; shift ;;
    --env=*) env="${1#--env=}" ;;
    -h|--help) usage ;;
    --) shift; break ;;
    1|2|3|forward) [ -z "$level" ] || { echo "error: one level only (got $level and $1)" >&2; usage; }; level="$1" ;;
    *) echo "error: unknown argument '$1'" >&2; usage ;;
  esac
  shift
done
[ -n "$level" ] || { echo "error: which level? 1, 2, 3 or forward" >&2; usage; }

# A name means inventories/NAME (./sandbox is the sandbox's Python package, not an inventory); only a path - it has
# a / in it, e.g. ./my-inventory or /etc/matbakh/prod - names an inventory of its own.
case "$env" in
  */*) inventory="$env" ;;
  *) inventory="inventories/$env" ;;
esac
[ -e "$inventory" ] || { echo "error: no inventory '$inventory' (environments: $(ls inventories | tr '\n' ' '); or a path with a /)" >&2; exit 2; }

case "$level" in
  forward) playbook=playbooks/rollforward.yml ;;
  *) playbook="playbooks/rollback_level${level}.yml" ;;
esac
ansible_playbook=ansible-playbook
[ -x .venv/bin/ansible-playbook ] && ansible_playbook=.venv/bin/ansible-playbook
command=("$ansible_playbook" "$playbook" -i "$inventory")
[ "$dry_run" = 1 ] && command+=(--check --diff)
echo "+ ${command[*]} $*" >&2
exec "${command[@]}" "$@"
