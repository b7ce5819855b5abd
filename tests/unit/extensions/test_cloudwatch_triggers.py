"""The Event-Driven Ansible source: one event per breaching rule, from the collection's own evaluation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ansible_collections.matbakh.hybrid_routing.extensions.eda.plugins.event_source import cloudwatch_triggers as source
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _triggers

END = 1_800_000_000


def series(value: float, count: int, period: int = 60) -> dict[str, Any]:
    return {"timestamps": [END - (i + 1) * period for i in range(count)], "values": [value] * count}


def test_one_event_per_breaching_rule() -> None:
    rules = _triggers.rules_or_defaults(None)
    healthy = {"Availability": 99.9, "GDPRComplianceRate": 100.0, "SecurityScore": 95.0,
               "AuditTrailIntegrityFailures": 0.0}
    firing = {"error_rate", "emergency_latency"}
    data = {f"r{i}": series(50.0 if rule["name"] in firing else healthy.get(rule["metric"]["name"], 0.1),
                            rule["evaluation_periods"], rule["metric"]["period"])
            for i, rule in enumerate(rules)}
    evaluation = _triggers.evaluate(rules, "prod", data, END)
    events = source.events(evaluation)
    assert [e["hybrid_routing_trigger"]["rule"] for e in events] == ["emergency_latency", "error_rate"]
    assert {e["hybrid_routing_trigger"]["recommended_level"] for e in events} == {2}
    assert events[0]["hybrid_routing_trigger"]["environment"] == "prod"


def test_unreadable_rules_make_no_event() -> None:
    rules = _triggers.rules_or_defaults(None)
    evaluation = _triggers.evaluate(rules, "prod", {}, END, error="GetMetricData failed: AccessDenied")
    assert source.events(evaluation) == []


def test_a_malformed_rule_stops_the_source_with_its_name() -> None:
    bad = _triggers.default_rules()
    bad[0]["level"] = 9
    with pytest.raises(_triggers.RuleError, match="trigger rule 'emergency_latency': key 'level'"):
        asyncio.run(source.main(asyncio.Queue(), {"environment": "prod", "rules": bad, "region": "eu-central-1"}))
