"""The monthly drills as molecule runs them (molecule 25+, ansible-native, no containers): each scenario starts the
sandbox, runs its level in drill mode, proves idempotence, replays the incident under a faulty API and verifies
the end state, the target and the drill markings; and verify fails when the service is not as the level leaves it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from hrtest import BIN, REPO, http

SCENARIOS = ("level1_drill", "level2_drill", "level3_drill", "dr_drill")
# The drills as the documentation gives them (test_documented_commands.py leaves these to this test: every drill
# binds the drill inventory's fixed ports, so one runs at a time).
DOCUMENTED = tuple(f"molecule test -s {scenario}" for scenario in SCENARIOS)
DRILL_API = "http://127.0.0.1:18887"  # extensions/molecule/inventory/group_vars/all.yml


def molecule(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    for name in ("ADMIN_TOKEN", "SLACK_WEBHOOK_URL", "SLACK_TOKEN", "PAGERDUTY_ROUTING_KEY", "DRILL_INVENTORY"):
        env.pop(name, None)
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
        assert "actions=8  successful=8  disabled=0  skipped=0  missing=0  failed=0" in output, output[-3000:]
        assert re.search(rf"{scenario}\W+idempotence: Executed: Successful", output), output[-3000:]
        assert "All assertions passed" in output
    print(f"drill wall times (s): {timings}")


def verify_catches_a_wrong_end_state() -> None:
    try:
        for step in ("create", "converge"):
            run = molecule(step, "-s", "level1_drill")
            assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        token = (ephemeral("level1_drill") / "sandbox" / "admin_token").read_text().strip()
        status, body = http("PATCH", f"{DRILL_API}/admin/feature-flags", token, {"flags": {"hybrid_routing": True}})
        assert status == 200, body
        verify = molecule("verify", "-s", "level1_drill")
        assert verify.returncode != 0
        assert "The drill did not leave the service as its level must" in verify.stdout + verify.stderr
    finally:
        molecule("destroy", "-s", "level1_drill")
