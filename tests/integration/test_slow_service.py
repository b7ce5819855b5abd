"""Issue 10: a rollback on the day the service is slow. Every admin API and health call of the real sandbox is
delayed, and each level must still finish within its target; a health endpoint that is down for a while is waited
for; a wait that runs out says whether the service was slow or down.

The default run takes 5 s on Level 1 (2 s is in the reliability suite's short mode, on a level in turn);
`bash scripts/test.sh --full` runs every level at both latencies.
"""

from __future__ import annotations

import re

import pytest

from hrtest import wait_for

HYBRID_FLAGS = {"hybrid_routing", "direct_bedrock", "intelligent_routing", "bedrock_support_mode"}
PLAYBOOKS = {1: "playbooks/rollback_level1.yml", 2: "playbooks/rollback_level2.yml", 3: "playbooks/rollback_level3.yml"}
TARGETS = {1: 120, 2: 300, 3: 600}
HEALTH = "matbakh.hybrid_routing.service_health"
SEED_PREVIOUS = "2025.01.10-1"


def slow_everything(latency_ms: int) -> dict:
    return {"rules": [{"path": "/admin", "latency_ms": latency_ms}, {"path": "/health", "latency_ms": latency_ms}]}


def summary_seconds(run) -> float:
    text = " ".join(run.stdout.split())
    match = re.search(r"rollback \([^)]*\) of itest: done in ([\d.]+)s \(target (\d+)s\)", text)
    assert match, run.stdout
    return float(match.group(1))


def health_wait(run) -> dict:
    [task] = [t for t in run.tasks if t["action"] == HEALTH and t["status"] != "skipped"]
    return task["wait"]


def assert_level_state(api, level: int) -> None:
    assert not any(api.flags()[name] for name in HYBRID_FLAGS)
    if level >= 2:
        routing = api.get("/admin/routing")
        assert routing["effective"] == {"mode": "mcp_only", "weights": {"direct": 0, "mcp": 100}}
    if level >= 3:
        assert api.get("/admin/releases")["current"] == SEED_PREVIOUS
    assert api.get("/admin/locks/rollback")["held"] is False


@pytest.mark.parametrize(
    "latency_ms, level",
    [
        pytest.param(5000, 1, id="5s-level1"),
        # 2 s on Level 3 is in the reliability suite's full mode too; its short mode has 2 s on a level in turn.
        pytest.param(2000, 3, id="2s-level3", marks=pytest.mark.full),
        pytest.param(2000, 1, id="2s-level1", marks=pytest.mark.full),
        pytest.param(2000, 2, id="2s-level2", marks=pytest.mark.full),
        pytest.param(5000, 2, id="5s-level2", marks=pytest.mark.full),
        pytest.param(5000, 3, id="5s-level3", marks=pytest.mark.full),
    ],
)
def test_every_call_slow_still_meets_the_target(runner, api, latency_ms, level):
    api.set_faults(slow_everything(latency_ms))
    run = runner.run(PLAYBOOKS[level], timeout=TARGETS[level] + 120)
    assert run.rc == 0, run.output
    assert run.outcome() == "success", "done, and within the target"
    took = summary_seconds(run)
    print(f"Level {level} with {latency_ms} ms on every call: {took}s of {TARGETS[level]}s")  # for docs/runbook.md
    assert took < TARGETS[level]
    wait = health_wait(run)
    # The health poll saw an answer slower than any fixed cap would have allowed (the defect: 2 s).
    assert wait["answered"] >= 1 and wait["last_answer_seconds"] >= latency_ms / 1000 - 0.1, wait
    api.set_faults({})
    assert_level_state(api, level)


def test_health_down_for_the_first_20s_of_verification(runner, api):
    # Nothing before verification calls /health, so /health goes down when the lock is taken, about a second before
    # verification starts, and for 21 s: verification meets about 20 s of a service that does not answer.
    started = runner.start(PLAYBOOKS[1])
    wait_for(lambda: any(c["path"] == "/admin/locks/rollback" for c in api.changes()), timeout=60, interval=0.01)
    api.set_faults({"rules": [{"path": "/health", "drop": True, "for_seconds": 21}]})
    run = runner.finish(started, timeout=180)
    assert run.rc == 0, run.output
    assert run.outcome() == "success"
    assert summary_seconds(run) < TARGETS[1]
    assert 17.0 <= run.phase_seconds("verify") < 30.0, run.stdout
    wait = health_wait(run)
    assert wait["unanswered"] >= 10 and wait["answered"] >= 1, wait
    assert_level_state(api, 1)


def test_a_wait_that_runs_out_says_the_service_was_down(runner, api):
    api.set_faults({"rules": [{"path": "/health", "drop": True}]})  # only verification calls /health
    run = runner.run(PLAYBOOKS[1], inventory_vars={"hybrid_routing_verify_timeout_seconds": 3})
    assert run.rc != 0
    text = " ".join(run.output.split())
    assert "did not become healthy within 3s: last status unreachable" in text, text
    assert re.search(r"\d+ polls in [\d.]+s: none answered; \d+ got no answer \(last: Cannot reach the hybrid "
                     r"routing admin API at http://127\.0\.0\.1:\d+/health: the connection was closed", text), text
    assert api.get("/admin/locks/rollback")["held"] is False


def test_a_wait_that_runs_out_says_the_service_was_slow(runner, api):
    api.set_faults({"health_status": "unhealthy", "rules": [{"path": "/health", "latency_ms": 1500}]})
    run = runner.run(PLAYBOOKS[1], inventory_vars={"hybrid_routing_verify_timeout_seconds": 4})
    assert run.rc != 0
    text = " ".join(run.output.split())
    assert "did not become healthy within 4s: last status unhealthy" in text, text
    assert re.search(r"\d+ polls in [\d.]+s: all answered, the last after 1\.[5-9]s", text), text
