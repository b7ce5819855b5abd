"""The automatic rollback's decisions (module_utils/_escalation.py): ladder, circuit breaker, impact report."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _escalation as e

T0 = 1_800_000_000.0


def evaluation(breaching: dict[str, int] | None = None, unsure: list[str] | None = None,
               errors: list[str] | None = None) -> dict[str, Any]:
    breaching = breaching or {}
    rules = [{"name": n, "level": lvl, "state": "breaching", "metric": "M", "datapoints": []}
             for n, lvl in breaching.items()]
    return {"environment": "prod", "breaching": list(breaching), "inconclusive": unsure or [], "errors": errors or [],
            "recommended_level": max(breaching.values(), default=0), "rules": rules}


@pytest.mark.parametrize(("found", "ceiling", "ran", "action", "level"), [
    (evaluation(), 2, [], "none", 0),
    (evaluation(unsure=["audit_trail_integrity"]), 2, [], "hold", 0),
    (evaluation(errors=["error_rate"]), 2, [], "hold", 0),
    (evaluation({"emergency_latency": 1}), 2, [], "run", 1),
    (evaluation({"emergency_latency": 1, "error_rate": 2}), 2, [], "run", 2),
    (evaluation({"emergency_latency": 1}, errors=["cost_spike"]), 2, [], "run", 1),  # a firing rule is evidence
    (evaluation({"availability": 3}), 2, [], "needs_person", 3),                      # Level 3 waits for a person
    (evaluation({"availability": 3}), 3, [], "run", 3),
    (evaluation(), 2, [1], "recovered", 1),
    (evaluation(unsure=["x"]), 2, [1], "recovered", 1),
    (evaluation({"cost_overrun": 1}), 2, [1], "run", 2),         # still firing after Level 1: climb
    (evaluation({"cost_overrun": 1}), 1, [1], "needs_person", 2),  # ... unless 1 is the ceiling
    (evaluation({"security_score": 2}), 2, [2], "needs_person", 3),
    (evaluation({"availability": 3}), 3, [3], "needs_person", 3),  # every level ran
])
def test_the_ladder(found: dict[str, Any], ceiling: int, ran: list[int], action: str, level: int) -> None:
    decision = e.decide(found, ceiling, ran)
    assert (decision["action"], decision["level"]) == (action, level), decision["reason"]


def test_reasons_say_what_a_person_must_run() -> None:
    decision = e.decide(evaluation({"availability": 3}), 2, [])
    expected = "above the automatic ceiling (Level 2): a person must run playbooks/rollback_level3.yml"
    assert expected in decision["reason"]
    assert decision["trigger"] == "availability"


def test_a_dry_run_stops_after_the_first_level() -> None:
    assert e.decide(evaluation({"error_rate": 2}), 2, [], dry_run=True)["action"] == "run"
    planned = e.decide(evaluation({"error_rate": 2}), 2, [2], dry_run=True)
    assert planned["action"] == "planned" and "only while rules still fire (now: error_rate)" in planned["reason"]


# -- the circuit breaker


@pytest.mark.parametrize(("ages", "allowed", "reason"), [
    ([], True, "0 automatic rollbacks"),
    ([7200], True, "1 automatic rollbacks"),
    ([600], False, "cooldown: the last automatic rollback was 600s ago; the next may act in 1200s"),
    ([1799.9], False, "cooldown"),
    ([1800], True, "1 automatic"),
    ([2000, 9000, 20000], False, "circuit breaker open: 3 automatic rollbacks in the last 86400s (at most 3)"),
    ([2000, 9000, 90000], True, "2 automatic"),  # one aged out of the window
])
def test_the_circuit_breaker(ages: list[float], allowed: bool, reason: str) -> None:
    verdict = e.guard_verdict([{"at": T0 - age} for age in ages], T0, 1800, 3, 86400)
    assert verdict["allowed"] is allowed
    assert reason in verdict["reason"]


def test_the_cooldown_remaining_is_reported() -> None:
    verdict = e.guard_verdict([{"at": T0 - 600}], T0, 1800, 3, 86400)
    assert verdict["cooldown_remaining_seconds"] == 1200 and verdict["last_at"] == T0 - 600


# -- the impact report


def rule(name: str, metric: str, values: list[float], state: str = "ok", start: str = "2027-01-15T08:00:00Z",
         breaching: bool = False) -> dict[str, Any]:
    points = [{"timestamp": start, "value": v, "breaching": breaching} for v in values]
    return {"name": name, "metric": metric, "state": state, "level": 2, "datapoints": points}


def test_before_after_and_user_impact() -> None:
    before = {"environment": "prod", "breaching": ["error_rate"], "rules": [
        rule("error_rate", "ErrorRate", [44.0, 45.0], "breaching", "2027-01-15T08:00:00Z", True),
        rule("latency", "EmergencyOperationLatency", [0.8]),
        rule("availability", "Availability", [99.9])]}
    after = {"environment": "prod", "breaching": [], "rules": [rule("error_rate", "ErrorRate", [0.4])]}
    decision = e.decide(after, 2, [2])
    began = e.first_breach(before)
    report = e.impact(before, after, decision, [2], began + 95)
    assert report["before"] == {"error_rate_percent": 45.0, "emergency_latency_seconds": 0.8,
                                "availability_percent": 99.9}
    assert report["after"]["error_rate_percent"] == 0.4 and report["after"]["availability_percent"] is None
    assert report["user_impact_seconds"] == 95 and report["first_breach"] == "2027-01-15T08:00:00Z"
    assert report["summary"].startswith("Automatic rollback of prod: Level 2; Level 2 ended the incident")
    assert "Error rate 45% -> 0.4%" in report["summary"] and "User impact 95s" in report["summary"]


def test_no_impact_without_a_breach_or_a_recovery() -> None:
    calm = {"environment": "prod", "breaching": [], "rules": []}
    report = e.impact(calm, calm, e.decide(calm, 2, []), [], None)
    assert report["user_impact_seconds"] is None and report["summary"].endswith("nothing to do.")
