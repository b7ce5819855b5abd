"""Reliability 2: kill -9 of a running level or roll-forward at random points of every phase, then a re-run
(issue 11).

The points are drawn per level from the run's own task sequence (a reference run counts its tasks; each point
waits until k tasks have finished, k drawn in turn from each stratum of the sequence, then a random 0-0.3 s into
the next task), so every phase is hit. The whole process group dies, as when a laptop does. After each kill:
the lock left behind expires within its TTL; the re-run converges to the level's end state; the release was
reverted exactly once; the audit trail verifies; PagerDuty got one page per incident (its dedup key), resolved
once the re-run verified the recovery. Short mode: 3 points per level; full (`scripts/reliability.sh --full`): 20.
"""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from hrtest import wait_for
from reliability import EXPECTED_MOVES, LEVEL3, PLAYBOOKS, TARGETS, Case, level_state_problems, release_moves

SEED = int(os.environ.get("HR_RELIABILITY_SEED") or time.time())
LOCK_TTL = 900  # the default hybrid_routing_lock_ttl_seconds
# Slow enough that verification, the traffic switch and the deployment each last a moment a kill can land in.
SLOW_SERVICE = {"recover_after_seconds": 1, "routing_converge_seconds": 0.5, "deploy_seconds": 1}
# Fewer tasks than any level runs (Level 1: 11, four of them skipped): the first point is drawn before a run has
# counted them.
MIN_TASKS = 8
# The preflight, the lock and the snapshot are one step (rollback_start); giving the lock back is the report's.
PHASES = (("preflight, lock, snapshot", ("Start the run",)), ("verify", ("Wait until", "recovery")),
          ("finish", ("Give the lock back", "Tell", "Say where", "Record the run")))


def phase_of(task_name: str | None) -> str:
    """The phase of the task that was running when the kill came (named after the last one that finished)."""
    if task_name is None:
        return "startup"
    for phase, words in PHASES:
        if any(word in task_name for word in words):
            return phase
    return "actions"


def receivers(sink) -> dict:
    return {"hybrid_routing_pagerduty_routing_key": "kill-test-routing-key",
            "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue",
            "hybrid_routing_slack_webhook_url": f"{sink.base}/slack/webhook/T0/B0/killtest",
            "hybrid_routing_statuspage_api_url": f"{sink.base}/statuspage/v1",
            "hybrid_routing_statuspage_api_key": "kill-test-statuspage-key",
            "hybrid_routing_statuspage_page_id": "kill"}


def kill_points(total_tasks: int, count: int, rng: random.Random) -> list[int]:
    """`count` task indexes, one drawn from each of `count` equal strata of 0..total_tasks-1."""
    points = []
    for index in range(count):
        low = index * total_tasks // count
        high = max(low + 1, (index + 1) * total_tasks // count)
        points.append(rng.randrange(low, high))
    return points


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def kill_cases() -> list:
    return [pytest.param(level, count, id=f"{level}-{count}",
                         marks=[pytest.mark.reliability] + ([pytest.mark.full] if count > 3 else []))
            for count in (3, 20) for level in ("level1", "level2", "level3", "rollforward")]


@pytest.mark.parametrize("level, points", kill_cases())
def test_killed_at_random_points_then_rerun_converges(runner, api, sink, level, points, tmp_path):
    import json

    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _audit

    rng = random.Random(f"{SEED}-{level}-{points}")
    playbook = PLAYBOOKS[level]
    case = Case("kills", f"{level}: {points} points", target=TARGETS[level])
    common = dict(receivers(sink), hybrid_routing_lock_ttl_seconds=LOCK_TTL)

    def prepare(state: Path) -> dict:
        api.reset()
        sink.reset()
        inventory = dict(common, hybrid_routing_state_dir=str(state))
        if level == "rollforward":
            done = runner.run(LEVEL3, inventory_vars=inventory)
            assert done.rc == 0, done.output
        api.set_faults(SLOW_SERVICE)
        return inventory

    total = MIN_TASKS  # until the first re-run has counted the level's tasks
    phases_hit: dict[str, int] = {}
    for stratum in range(points):
        point = kill_points(total, points, rng)[stratum]
        inventory = prepare(tmp_path / f"point-{point}-{rng.random():.6f}")
        started = runner.start(playbook, inventory_vars=inventory)
        proc, record, began = started
        wait_for(lambda proc=proc, record=record, point=point: proc.poll() is not None
                 or len(lines(record)) >= point, timeout=120, interval=0.01)
        time.sleep(rng.uniform(0, 0.3))
        finished = lines(record)
        phase = phase_of(json.loads(finished[-1])["name"] if finished else None)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        else:
            phase = "ended before the kill"
        phases_hit[phase] = phases_hit.get(phase, 0) + 1
        case.run(time.monotonic() - began, False)

        lock = api.get("/admin/locks/rollback")
        if lock["held"]:
            left = (datetime.fromisoformat(lock["expires_at"].replace("Z", "+00:00")).timestamp() - time.time())
            assert left <= LOCK_TTL + 1, f"the lock outlives its TTL ({left:.0f}s left, TTL {LOCK_TTL}s)"

        api.set_faults({})
        rerun = runner.run(playbook, inventory_vars=inventory)
        case.run(rerun.seconds, rerun.rc == 0)
        assert rerun.rc == 0, f"killed at task {point} ({phase}); the re-run failed:\n{rerun.output}"
        total = max(total, len(rerun.tasks))
        assert level_state_problems(api, level) == [], f"killed at task {point} ({phase})"
        held = api.get("/admin/locks/rollback")["held"]
        assert not held, f"killed at task {point} ({phase}): the lock outlived the re-run"
        moves = release_moves(api)
        assert moves == EXPECTED_MOVES[level], f"killed at task {point} ({phase}): release deployments {moves}"
        audit = _audit.verify(str(Path(inventory["hybrid_routing_state_dir"]) / "itest" / "audit.jsonl"))
        assert audit["valid"], f"killed at task {point} ({phase}): {audit['first_broken']}"
        pages = sink.get("pagerduty")
        if level in ("level3", "rollforward"):
            assert len(pages["pages"]) == 1, f"killed at task {point} ({phase}): {pages}"
        else:
            assert pages["pages"] == [], pages
        assert pages["open"] == [], f"killed at task {point} ({phase}): a page left open {pages}"
        # Statuspage has no dedup key: one public incident per Level 3 (a roll-forward's is its Level 3's), resolved.
        incidents = sink.get("statuspage")["incidents"]
        expected = 1 if level in ("level3", "rollforward") else 0
        assert len(incidents) == expected, f"killed at task {point} ({phase}): status page incidents {incidents}"
        assert all(item["status"] == "resolved" for item in incidents), f"killed at task {point} ({phase}): {incidents}"
    by_phase = ", ".join(f"{name} {count}" for name, count in sorted(phases_hit.items()))
    case.note = f"{total} tasks; kills by phase: {by_phase}; seed {SEED}"
    case.save()
