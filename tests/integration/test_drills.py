"""The monthly drills as molecule runs them (molecule 25+, ansible-native, no containers): each scenario starts the
sandbox, runs its level in drill mode, proves idempotence, replays the incident under a faulty API and verifies
rolls forward and verifies that the environment is as the drill found it, the target and the drill markings; and
verify fails when the drill leaves the environment rolled back."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import yaml

from hrtest import BIN, REPO, StagingStandIn, http

SCENARIOS = ("level1_drill", "level2_drill", "level3_drill", "dr_drill")
# The drills as the documentation gives them (test_documented_commands.py leaves these to this test: every drill
# binds the drill inventory's fixed ports, so one runs at a time).
DOCUMENTED = tuple(f"molecule test -s {scenario}" for scenario in SCENARIOS)
DRILL_API = "http://127.0.0.1:18887"  # extensions/molecule/inventory/group_vars/all.yml


def molecule(*args: str, timeout: float = 600, **environment: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    for name in ("ADMIN_TOKEN", "SLACK_WEBHOOK_URL", "SLACK_TOKEN", "PAGERDUTY_ROUTING_KEY", "DRILL_INVENTORY"):
        env.pop(name, None)
    env.update(environment)
    return subprocess.run([str(BIN / "molecule"), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def ephemeral(scenario: str) -> Path:
    found = sorted(Path.home().glob(f".ansible/tmp/molecule.*.{scenario}"), key=lambda path: path.stat().st_mtime)
    assert found, f"no ephemeral directory of {scenario}"
    return found[-1]


def test_the_monthly_drills_pass_and_verify_catches_a_wrong_end_state():
    # One test, not two: every scenario uses the drill inventory's fixed loopback ports.
    verify_catches_a_wrong_end_state()
    timings = {}
    for scenario, command in zip(SCENARIOS, DOCUMENTED, strict=True):
        started = time.monotonic()
        run = molecule(*shlex.split(command)[1:])
        timings[scenario] = round(time.monotonic() - started, 1)
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-6000:]
        assert "actions=9  successful=9  disabled=0  skipped=0  missing=0  failed=0" in output, output[-3000:]
        assert re.search(rf"{scenario}\W+idempotence: Executed: Successful", output), output[-3000:]
        assert "All assertions passed" in output
    print(f"drill wall times (s): {timings}")


def verify_catches_a_wrong_end_state() -> None:
    """Converge without the side effect (which rolls forward): staging would be left rolled back, and verify says
    what is not as the drill found it."""
    try:
        run = molecule("converge", "-s", "level1_drill")  # create, prepare (the baseline), converge
        assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        token = (ephemeral("level1_drill") / "sandbox" / "admin_token").read_text().strip()
        status, flags = http("GET", f"{DRILL_API}/admin/feature-flags", token)
        assert status == 200 and flags["flags"]["hybrid_routing"]["enabled"] is False, flags
        verify = molecule("verify", "-s", "level1_drill")
        # molecule wraps and frames the message: read it as words.
        output = " ".join((verify.stdout + verify.stderr).replace("\u2502", " ").split())
        assert verify.returncode != 0
        assert "The drill did not leave the environment as it began: flag bedrock_support_mode is false" in output
        assert "flag hybrid_routing is false, was true" in output
    finally:
        molecule("destroy", "-s", "level1_drill")


def test_a_drill_of_staging_leaves_staging_as_it_found_it(tmp_path, moto_server):
    """The Level 2 drill against inventories/staging, with a second sandbox standing in for staging: a staging that
    is not the seed's (a flag off, other weights) is left exactly so."""
    staging = StagingStandIn(tmp_path / "staging", "bedrock_support_mode", {"direct": 90, "mcp": 10})
    try:
        found = staging.as_found()
        inventory = tmp_path / "inventory"
        (inventory / "group_vars").mkdir(parents=True)
        (inventory / "hosts.yml").write_text((REPO / "inventories" / "staging" / "hosts.yml").read_text())
        (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(
            dict(staging.inventory_vars(moto_server), hybrid_routing_requester="alice")))
        run = molecule("test", "-s", "level2_drill", DRILL_INVENTORY=os.path.relpath(inventory, REPO),
                       ADMIN_TOKEN=staging.token)
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-6000:]
        assert "All assertions passed" in output
        modes = [change for change in staging.changes() if change.get("path") == "/admin/routing"]
        assert modes, "the drill acted on staging"
        assert staging.as_found() == found
    finally:
        staging.stop()
