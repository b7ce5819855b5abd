"""The drill schedule (the seed's monthly drills) and the history judged against it."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _drills as d

DAY = 86400


def at(day: str) -> float:
    return datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(("level", "today", "last", "following"), [
    # November 2026: Sundays 1, 8, 15, 22, 29.
    ("1", "2026-11-29", "2026-11-01", "2026-12-06"),
    ("2", "2026-11-08", "2026-11-08", "2026-12-13"),
    ("3", "2026-11-14", "2026-10-18", "2026-11-15"),
    ("forward", "2026-11-29", "2026-11-22", "2026-12-27"),
    ("1", "2027-01-02", "2026-12-06", "2027-01-03"),
])
def test_the_schedule_is_the_nth_sunday(level, today, last, following):
    day = datetime.date.fromisoformat(today)
    assert d.last_scheduled(level, day).isoformat() == last
    assert d.next_scheduled(level, day).isoformat() == following


def test_history_reports_the_last_success_and_what_is_overdue():
    levels = list(d.SCHEDULE)
    series = {
        "ok0": {at("2026-11-01"): 1.0, at("2026-10-04"): 1.0},
        "duration0": {at("2026-11-01"): 41.5},
        "missed0": {at("2026-11-01"): 0.0},
        # Level 2 drilled 5 days before its Sunday: it counts (grace of 7 days).
        "ok1": {at("2026-11-03"): 2.0},
        "missed1": {at("2026-11-03"): 1.0},
        # Level 3 only failed (Succeeded 0): overdue.
        "ok2": {at("2026-11-15"): 0.0},
    }
    found = d.history(levels, series, datetime.date(2026, 11, 29))
    assert found["level1_drill"] == {"level": "1", "last_success": "2026-11-01", "duration_seconds": 41.5,
                                     "target_missed": False, "last_due": "2026-11-01", "next_due": "2026-12-06",
                                     "overdue": False}
    assert found["level2_drill"]["overdue"] is False and found["level2_drill"]["target_missed"] is True
    assert found["level3_drill"]["last_success"] is None and found["level3_drill"]["overdue"] is True
    assert found["dr_drill"]["overdue"] is True


def test_queries_ask_for_drills_only():
    found = d.queries("prod", ["1"])
    assert {q["Id"] for q in found} == {"ok0", "missed0", "duration0"}
    assert all({"Name": "Drill", "Value": "true"} in q["MetricStat"]["Metric"]["Dimensions"] for q in found)
