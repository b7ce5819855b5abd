"""Reliability 3: rollbacks started at once on one environment (issue 11).

Exactly one acts; the others stop at once (before the one that acts has finished) naming the holder; no write
of theirs reaches the API: every accepted write in the sandbox's change log carries the acting run's rollback id.
"""

from __future__ import annotations

import re
import time

import pytest

from hrtest import aws_vars, fast_rules, http, wait_for
from reliability import AUTO, LEVEL1, LEVEL2, LEVEL3, TARGETS, Case, level_state_problems

ROLLBACK_ID = re.compile(r"rollback id (rb-[0-9TZ]+-[0-9a-f]+)")


def rollback_id(output: str) -> str | None:
    found = ROLLBACK_ID.search(" ".join(output.split()))
    return found.group(1) if found else None


def accepted_writes(api) -> list[dict]:
    return [change for change in api.changes() if change["status"] < 400]


@pytest.mark.reliability
@pytest.mark.parametrize("count, same_operator", [(2, False), (2, True), (5, False), (5, True)],
                         ids=["2-operators", "2-same-operator", "5-operators", "5-same-operator"])
def test_runs_started_at_once_one_acts(runner, api, count, same_operator):
    case = Case("concurrency", f"{count} at once, {'one operator' if same_operator else 'different operators'}",
                target=TARGETS["level2"])
    api.set_faults({"recover_after_seconds": 3})  # the one that acts holds the lock a while
    operators = ["alice"] * count if same_operator else ["alice", "bob", "carol", "dave", "erin"][:count]
    playbooks = [LEVEL2, LEVEL1, LEVEL2, LEVEL1, LEVEL2][:count]
    started = [runner.start(playbook, inventory_vars={"hybrid_routing_operator": name})
               for playbook, name in zip(playbooks, operators, strict=True)]
    runs = runner.finish_all(started)
    for run in runs:
        case.run(run.seconds, True)
    winners = [index for index, run in enumerate(runs) if run.rc == 0]
    assert len(winners) == 1, [(run.rc, run.output[-1500:]) for run in runs]
    winner = runs[winners[0]]
    winner_id = rollback_id(winner.stdout)
    assert winner_id and level_state_problems(api, "level2" if playbooks[winners[0]] == LEVEL2 else "level1") == []
    for index, run in enumerate(runs):
        if index in winners:
            continue
        text = " ".join(run.output.split())
        if same_operator:
            assert "another run of yours that is still going" in text, text[-2000:]
        else:
            assert f"held by {operators[winners[0]]} since" in text, text[-2000:]
        assert run.seconds < winner.seconds, "a run that does not act stops at once"
    ids = {change["rollback_id"] for change in accepted_writes(api)}
    assert ids == {winner_id}, f"writes of runs that did not act reached the API: {ids - {winner_id}}"
    slowest_refusal = max(run.seconds for index, run in enumerate(runs) if index not in winners)
    case.note = (f"1 acted; {count - 1} refused in at most {slowest_refusal:.1f}s (the one that acted took "
                 f"{winner.seconds:.1f}s); every accepted write is the acting run's")
    case.save()


@pytest.mark.reliability
def test_a_manual_rollback_while_auto_rollback_runs(runner, monitored, moto_server):
    case = Case("concurrency", "manual Level 2 while auto_rollback acts", target=TARGETS["auto"])
    runner.sandbox = monitored
    # /health recovers 8 s after the rollback acts: the automatic run holds the lock while it verifies.
    monitored.set_faults({"incident": {"kind": "flag", "history_seconds": 150}, "recover_after_seconds": 8})
    time.sleep(1.5)
    auto_vars = dict(aws_vars(moto_server), hybrid_routing_api_base=monitored.base,
                     hybrid_routing_environment=monitored.environment, hybrid_routing_trigger_rules=fast_rules(),
                     hybrid_routing_auto_recovery_interval_seconds=2)
    env = {"ADMIN_TOKEN": monitored.token}
    auto = runner.start(AUTO, inventory_vars=auto_vars, env=env)
    wait_for(lambda: monitored.get("/admin/locks/rollback")["held"], timeout=120, interval=0.02)
    holder = monitored.get("/admin/locks/rollback")["holder"]
    manual = runner.run(LEVEL2, inventory_vars={"hybrid_routing_api_base": monitored.base,
                                                "hybrid_routing_environment": monitored.environment,
                                                "hybrid_routing_operator": "alice"}, env=env)
    done = runner.finish(auto)
    case.run(done.seconds, done.rc == 0)
    case.run(manual.seconds, manual.rc != 0)
    assert done.rc == 0, done.output
    assert manual.rc != 0
    assert f"held by {holder} since" in " ".join(manual.output.split())
    manual_id = rollback_id(manual.stdout)
    assert manual_id and all(change["rollback_id"] != manual_id for change in accepted_writes(monitored))
    assert monitored.get("/admin/routing")["mode"] == "hybrid", "the manual Level 2 did not act"
    case.note = f"auto_rollback acted (lock holder {holder}); the manual run refused in {manual.seconds:.1f}s"
    case.save()


@pytest.mark.reliability
def test_a_rollback_while_a_deployment_runs(runner, api):
    case = Case("concurrency", "Level 3 and Level 1 while a deployment runs", target=TARGETS["level3"])
    api.set_faults({"deploy_seconds": 15})
    status, body = http("POST", f"{api.base}/admin/releases/rollback", api.token, {"target": "2025.01.02-1"})
    assert status in (200, 202), body
    deployment = body["deployment"]["id"]
    level3 = runner.run(LEVEL3)
    case.run(level3.seconds, level3.rc != 0)
    assert level3.rc != 0
    assert f"Another deployment is in progress: deployment {deployment}" in " ".join(level3.output.split())
    assert [change["path"] for change in accepted_writes(api)] == ["/admin/releases/rollback"], \
        "Level 3 wrote nothing (not even the lock) before refusing"
    # The flags do not depend on the deployment: Level 1 acts while it runs.
    level1 = runner.run(LEVEL1)
    case.run(level1.seconds, level1.rc == 0)
    assert level1.rc == 0, level1.output
    assert not api.flags()["hybrid_routing"]
    # The service reports itself degraded while it deploys: Level 1 verified once the deployment was over.
    assert api.get(f"/admin/deployments/{deployment}")["status"] == "succeeded"
    case.note = (f"Level 3 refused naming deployment {deployment}, before any write, in {level3.seconds:.1f}s; "
                 f"Level 1 acted, verified when the deployment ended ({level1.seconds:.1f}s)")
    case.save()
