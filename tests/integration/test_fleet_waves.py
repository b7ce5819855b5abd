"""A fleet rolled back wave by wave (issue 21): the real ansible-playbook of a level on a fleet of sandboxes, one
sandbox process per environment, the waves given with -e as a user gives them.

- A canary that fails its verification stops the fleet: the later waves are untouched (flags on, routing hybrid).
- A healthy fleet goes wave by wave: each wave's first change comes after the wave before it has recovered.
- A run killed during wave 2 and run again converges: each environment rolled back once, wave 1 not redone.
- The cap on requests per second to one admin API holds across the fleet's workers.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hrtest import REPO, Fleet, Runner, Sandbox, http, plain, wait_for

LEVEL2 = "playbooks/rollback_level2.yml"
LEVEL1 = "playbooks/rollback_level1.yml"
HYBRID_FLAGS = ("hybrid_routing", "direct_bedrock")


def _runner(tmp_path: Path, fleet: Fleet) -> Runner:
    return Runner(tmp_path, fleet.boxes[0])  # its token is the fleet's


def _at(change: dict[str, Any]) -> float:
    return datetime.datetime.fromisoformat(change["at"].replace("Z", "+00:00")).timestamp()


def _untouched(box: Sandbox) -> bool:
    return box.changes() == [] and all(box.flags()[name] for name in HYBRID_FLAGS) \
        and box.get("/admin/routing")["mode"] == "hybrid"


def _said(run: Any) -> str:
    """The run's output as words (the console wraps long lines)."""
    return " ".join(plain(run.stdout).split())


def _writes(box: Sandbox) -> list[tuple[str, str]]:
    """The changes a rollback makes, the lock's bookkeeping aside."""
    return [(c["method"], c["path"]) for c in box.changes() if c["path"] != "/admin/locks/rollback"]


def _waves(value: list[Any]) -> str:
    return json.dumps({"hybrid_routing_waves": value})  # as docs/fleet.md gives it


def test_a_canary_that_fails_its_verification_stops_the_fleet(tmp_path, fleet_of):
    fleet = fleet_of(4)
    fleet.boxes[0].set_faults({"health_status": "unhealthy"})  # the canary never recovers
    runner = _runner(tmp_path, fleet)
    run = runner.run(LEVEL2, "-e", _waves([1, "100%"]),
                     inventory=fleet.inventory(hybrid_routing_verify_timeout_seconds=3))
    assert run.rc != 0, run.output
    canary = fleet.boxes[0]
    assert not any(canary.flags()[name] for name in HYBRID_FLAGS)  # the canary acted, then failed to recover
    assert all(_untouched(box) for box in fleet.boxes[1:]), "a later wave was touched"
    text = _said(run)
    assert "STOPPED at wave 1 (env0 failed, tolerance 0 %)" in text, text[-3000:]
    assert "did not become healthy" in text and "Untouched: env1, env2, env3." in text
    for name in fleet.names[1:]:
        assert f"ok: [{name}]" not in run.stdout and f"changed: [{name}]" not in run.stdout


def test_a_healthy_fleet_goes_wave_by_wave_each_after_the_one_before_recovered(tmp_path, fleet_of):
    fleet = fleet_of(4)
    recover = 3.0
    for box in fleet.boxes:
        box.set_faults({"recover_after_seconds": recover})
    runner = _runner(tmp_path, fleet)
    run = runner.run(LEVEL2, "-e", _waves([1, 1, "100%"]), "-e", '{"hybrid_routing_wave_order": ["env3"]}',
                     inventory=fleet.inventory())
    assert run.rc == 0, run.output
    waves = [["env3"], ["env0"], ["env1", "env2"]]
    boxes = dict(zip(fleet.names, fleet.boxes, strict=True))
    actions = [[_at(c) for name in wave for c in boxes[name].changes() if c["path"] != "/admin/locks/rollback"]
               for wave in waves]
    times = [[_at(change) for name in wave for change in boxes[name].changes()] for wave in waves]
    for earlier, later in zip(actions[:-1], times[1:], strict=True):
        # The next wave starts only after the one before was verified: its recovery came after its last change.
        # (The change log keeps whole seconds.)
        assert min(later) >= max(earlier) + recover - 1, (earlier, later)
    for box in fleet.boxes:
        assert not any(box.flags()[name] for name in HYBRID_FLAGS) and box.get("/admin/routing")["mode"] == "mcp_only"
    assert "Fleet: wave 3 of 3 done, 4 of 4 environments run, 0 failed." in _said(run)

    # The roll-forward goes wave by wave too, and restores every environment.
    for box in fleet.boxes:
        box.set_faults({})
    forward = runner.run("playbooks/rollforward.yml", "-e", _waves([2, "100%"]), inventory=fleet.inventory())
    assert forward.rc == 0, forward.output
    assert "Fleet: wave 2 of 2 done, 4 of 4 environments run, 0 failed." in _said(forward)
    for box in fleet.boxes:
        assert all(box.flags()[name] for name in HYBRID_FLAGS) and box.get("/admin/routing")["mode"] == "hybrid"


def test_a_run_killed_during_wave_two_then_run_again_converges_without_redoing_wave_one(tmp_path, fleet_of):
    fleet = fleet_of(3)
    for box in fleet.boxes:
        box.set_faults({"recover_after_seconds": 4})
    runner = _runner(tmp_path, fleet)
    inventory = fleet.inventory()
    args = ("-e", _waves([1, "100%"]))
    cmd, env, _record = runner._prepare(LEVEL2, args, None, fleet.token, None, inventory)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    wave_two = fleet.boxes[1]
    wait_for(lambda: any(c["path"] == "/admin/feature-flags" for c in wave_two.changes()), timeout=120)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    first_wave_writes = _writes(fleet.boxes[0])

    rerun = runner.run(LEVEL2, *args, token=fleet.token, inventory=inventory)
    assert rerun.rc == 0, rerun.output
    # Wave 1 was not redone: its re-run found nothing to do (it takes and gives back the lock, nothing else).
    assert _writes(fleet.boxes[0]) == first_wave_writes, "wave 1 was redone"
    for box in fleet.boxes:
        flag_writes = [c for c in box.changes() if c["path"] == "/admin/feature-flags"]
        routing_writes = [c for c in box.changes() if c["path"] == "/admin/routing"]
        assert len(flag_writes) == 1 and len(routing_writes) == 1, box.changes()
        assert box.get("/admin/routing")["mode"] == "mcp_only"
        assert box.get("/admin/locks/rollback")["held"] is False


def test_the_request_cap_holds_across_the_fleet(tmp_path, fleet_of):
    fleet = fleet_of(6)
    cap = 10.0
    runner = _runner(tmp_path, fleet)
    run = runner.run(LEVEL1, token=fleet.token, inventory=fleet.inventory(
        hybrid_routing_api_max_requests_per_second=cap, hybrid_routing_api_rate_limit_scope="one-gateway"))
    assert run.rc == 0, run.output
    times = sorted(t for box in fleet.boxes for t in http("GET", f"{box.base}/_sandbox/requests")[1]["times"])
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= cap * 1.1 + 1, busiest
    assert len(times) >= 6 * 10  # every environment's requests, not a few
    assert times[-1] - times[0] >= (len(times) - 1) / cap - 1.0  # paced, which takes time


def _receivers(sink: Any) -> dict[str, Any]:
    return {"hybrid_routing_slack_webhook_url": f"{sink.base}/slack/webhook/T0/B0/fleet{secrets.token_hex(4)}",
            "hybrid_routing_pagerduty_routing_key": "fleet-routing-key",
            "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue"}


def test_a_fleet_sends_one_slack_message_per_wave_and_pages_once(tmp_path, fleet_of, sink):
    """Level 3 on a fleet of three in two waves: two Slack messages (not three), every PagerDuty event under the
    fleet's one key (the Level 3 start pages of each environment are one incident), resolved once, at the end."""
    fleet = fleet_of(3)
    runner = _runner(tmp_path, fleet)
    run = runner.run("playbooks/rollback_level3.yml", "-e", _waves([1, "100%"]),
                     inventory=fleet.inventory(**_receivers(sink)))
    assert run.rc == 0, run.output
    slack = sink.requests("/slack/")
    assert len(slack) == 2, [item["body"] for item in slack]
    first, last = (item["body"]["text"] for item in slack)
    assert "Level 3 rollback of a fleet of 3: wave 1 of 2 done" in first and "Untouched: env1, env2" in first
    assert "Level 3 rollback of a fleet of 3: done" in last and all(f"• {name} " in last for name in fleet.names)
    events = [item["body"] for item in sink.requests("/pagerduty/")]
    assert len({event["dedup_key"] for event in events}) == 1, events
    assert [event["event_action"] for event in events].count("resolve") == 1
    assert events[-1]["event_action"] == "resolve"
    pages = sink.get("pagerduty")
    assert len(pages["pages"]) == 1 and pages["open"] == [], pages


def test_a_failing_canary_pages_the_fleet_once(tmp_path, fleet_of, sink):
    fleet = fleet_of(3)
    fleet.boxes[0].set_faults({"health_status": "unhealthy"})
    runner = _runner(tmp_path, fleet)
    run = runner.run(LEVEL2, "-e", _waves([1, "100%"]), inventory=fleet.inventory(
        hybrid_routing_verify_timeout_seconds=3, **_receivers(sink)))
    assert run.rc != 0
    slack = sink.requests("/slack/")
    assert len(slack) == 1 and "STOPPED at wave 1" in slack[0]["body"]["text"]
    events = [item["body"] for item in sink.requests("/pagerduty/")]
    assert [event["event_action"] for event in events] == ["trigger"], events
    assert "STOPPED at wave 1" in events[0]["payload"]["summary"]
    assert all(_untouched(box) for box in fleet.boxes[1:])


@pytest.mark.parametrize("extra, said", [
    ("hybrid_routing_waves=[1,", "hybrid_routing_waves must be a list of wave sizes, got '[1,': give it as JSON"),
    ('{"hybrid_routing_waves": [1, "a quarter"]}', "'a quarter' is neither a number of environments nor a percentage"),
    ('{"hybrid_routing_wave_order": ["nowhere"]}', "wave_order names nowhere, which this run does not target"),
], ids=["not-json", "not-a-size", "unknown-environment"])
def test_waves_the_play_cannot_take_are_refused_before_anything_is_read(runner, api, extra, said):
    run = runner.run(LEVEL1, "-e", extra)
    assert run.rc != 0
    assert said in _said(run) and "Traceback" not in run.output
    assert api.changes() == [] and api.get("/_sandbox/requests")["by_route"] == {}


def test_waves_of_the_environments_a_pattern_names_in_the_order_given(tmp_path, fleet_of):
    """hybrid_routing_hosts as a pattern of several (env1:env2) with an order: only those two, env2 first."""
    fleet = fleet_of(4)
    runner = _runner(tmp_path, fleet)
    run = runner.run(LEVEL1, "-e", "hybrid_routing_hosts=env1:env2", "-e", _waves([1]), "-e",
                     '{"hybrid_routing_wave_order": ["env2"]}', inventory=fleet.inventory())
    assert run.rc == 0, run.output
    boxes = dict(zip(fleet.names, fleet.boxes, strict=True))
    assert _untouched(boxes["env0"]) and _untouched(boxes["env3"])
    first, second = (min(_at(c) for c in boxes[name].changes()) for name in ("env2", "env1"))
    assert first <= second
    assert "Fleet: wave 2 of 2 done, 2 of 2 environments run, 0 failed." in _said(run)
    refused = runner.run(LEVEL1, "-e", "hybrid_routing_hosts=env1", "-e", '{"hybrid_routing_wave_order": ["env2"]}',
                         inventory=fleet.inventory())
    assert refused.rc != 0 and "names env2, which this run does not target" in _said(refused)
