#!/usr/bin/env bash
# The main job on the embedded default: set up, start the sandbox, run a Level 1 rollback against it
# (dry run first, then for real) and show the outcome. Then the automatic side: an incident starts, the metrics
# breach, auto_rollback picks the level, the metrics recover, and a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
source .venv/bin/activate

mkdir -p .sandbox
if [ -z "${ADMIN_TOKEN:-}" ]; then
  [ -s .sandbox/admin_token ] || (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(24))' > .sandbox/admin_token)
  ADMIN_TOKEN=$(cat .sandbox/admin_token)
  export ADMIN_TOKEN
fi
python -m sandbox up
api=$(python -c 'import yaml; print(yaml.safe_load(open("inventories/sandbox/group_vars/all.yml"))["hybrid_routing_api_base"])')

echo "== Resetting the sandbox to its seed (hybrid routing on) for a repeatable demo"
python - "$api" <<'PY'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_sandbox/reset", method="POST"), timeout=10).read()
PY

show_state() {
  python - "$api" <<'PY'
import json, os, sys, urllib.request
api = sys.argv[1]
def get(path):
    req = urllib.request.Request(api + path, headers={"Authorization": "Bearer " + os.environ["ADMIN_TOKEN"]})
    return json.load(urllib.request.urlopen(req, timeout=10))
flags = get("/admin/feature-flags")["flags"]
print("   flags:  " + ", ".join(f"{name}={doc['enabled']}" for name, doc in sorted(flags.items())))
print("   health: " + get("/health")["status"])
PY
}
echo "== State before:"; show_state

echo "== Dry run: ansible-playbook playbooks/rollback_level1.yml -i inventories/sandbox --check --diff"
ansible-playbook playbooks/rollback_level1.yml -i inventories/sandbox --check --diff

echo "== Level 1 rollback: ansible-playbook playbooks/rollback_level1.yml -i inventories/sandbox"
ansible-playbook playbooks/rollback_level1.yml -i inventories/sandbox

echo "== State after:"; show_state

echo "== An incident: error rate up (sandbox incident kind 'routing', as if it began an hour ago)"
python - "$api" <<'PY'
import json, sys, urllib.request
body = json.dumps({"incident": {"kind": "routing", "history_seconds": 3600}}).encode()
req = urllib.request.Request(sys.argv[1] + "/_sandbox/reset", method="POST")
urllib.request.urlopen(req, timeout=10).read()
req = urllib.request.Request(sys.argv[1] + "/_sandbox/faults", data=body, method="PATCH",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
sleep 12  # the sandbox publishes its metrics every 10 s

echo "== What would happen: ansible-playbook playbooks/auto_rollback.yml -i inventories/sandbox --check"
ansible-playbook playbooks/auto_rollback.yml -i inventories/sandbox --check

echo "== Automatic rollback (it waits until the metrics show the recovery, about 2 minutes)"
ansible-playbook playbooks/auto_rollback.yml -i inventories/sandbox
echo "== State after:"; show_state

echo "== Again: nothing fires any more, nothing is done"
ansible-playbook playbooks/auto_rollback.yml -i inventories/sandbox
echo "The sandbox keeps running: 'source .venv/bin/activate && python -m sandbox down' stops it."
