"""The validation's verdicts: a check passes exactly when its module's result did; people, channels and
completeness are judged with their reason."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils import _validation as v

ROOT = Path(__file__).resolve().parents[4]


def test_a_check_follows_its_module_result():
    assert v.check("lock", {"changed": False}, "free") == {"check": "lock", "passed": True, "reason": "free"}
    assert v.check("lock", {"failed": True, "msg": "The rollback lock is held by bob"}, "free")["reason"] == \
        "The rollback lock is held by bob"
    assert v.check("release", {"skipped": True}, "x")["reason"] == "not applicable to this inventory"
    assert v.check("api", None, "x") == {"check": "api", "passed": False, "reason": "not run"}


def test_people_and_channels():
    assert not v.people_check({})["passed"]
    missing = v.people_check({"alice": {"roles": ["on_call"]}})
    assert not missing["passed"] and missing["reason"] == \
        "nobody holds the role engineering_manager, cto in hybrid_routing_people"
    assert v.people_check({"a": {"roles": ["on_call"]}, "m": {"roles": ["engineering_manager", "cto"]}})["passed"]
    assert not v.notify_check([])["passed"] and not v.notify_check(["email"])["passed"]
    assert v.notify_check(["slack", "pagerduty"])["reason"] == "configured: slack, pagerduty (not configured: email)"


def test_completeness_of_this_collection_and_a_missing_target(tmp_path):
    targets = {"level1": 120, "level2": 300, "level3": 600, "rollforward": 600}
    assert all(item["passed"] for item in v.completeness(str(ROOT), targets))
    found = {item["check"]: item for item in v.completeness(str(ROOT), dict(targets, level2=0))}
    assert found["level2 complete"]["reason"] == "no target (hybrid_routing_targets.level2)"
    empty = v.completeness(str(tmp_path), targets)
    assert "role flag_disable missing" in empty[0]["reason"] and "no section" in empty[0]["reason"]


def test_the_report_fails_on_a_failed_check_not_on_an_overdue_drill():
    drills = {"level1_drill": {"last_success": None, "overdue": True, "last_due": "2026-11-01",
                               "next_due": "2026-12-06"}}
    passed = v.report("prod", [{"check": "a", "passed": True, "reason": "ok"}], drills)
    assert passed["passed"] and passed["overdue_drills"] == ["level1_drill"]
    assert passed["summary"] == "Validation of prod: 1 of 1 checks passed; drills overdue: level1_drill."
    assert passed["lines"][-1] == "level1_drill: last success never; due 2026-11-01, next 2026-12-06: OVERDUE"
    failed = v.report("prod", [{"check": "a", "passed": False, "reason": "no"}], {})
    assert not failed["passed"] and failed["lines"] == ["FAIL  a: no"]
