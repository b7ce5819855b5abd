# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The drill schedule (the seed's monthly drills) and the drill history the drills record themselves.

A drill's history is its rollback metrics (namespace Matbakh/HybridRouting/Rollbacks, dimension Drill=true), which
every run publishes where every controller sees them: CloudWatch. The schedule: the first Sunday of each month
Level 1, the second Level 2, the third Level 3, the fourth a full disaster recovery (every level, then the
roll-forward, whose metrics carry Level=forward). A drill done up to GRACE_DAYS before its scheduled Sunday counts
for it; a level with no successful drill since its last scheduled Sunday (minus the grace) is overdue.
"""

from __future__ import annotations

import datetime
from typing import Any

NAMESPACE = "Matbakh/HybridRouting/Rollbacks"
# Level dimension value -> which Sunday of the month (1-4) its drill is due.
SCHEDULE = {"1": 1, "2": 2, "3": 3, "forward": 4}
NAMES = {"1": "level1_drill", "2": "level2_drill", "3": "level3_drill", "forward": "dr_drill"}
GRACE_DAYS = 7
DAY = 86400


def nth_sunday(year: int, month: int, nth: int) -> datetime.date:
    first = datetime.date(year, month, 1)
    return first + datetime.timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))


def last_scheduled(level: str, today: datetime.date) -> datetime.date:
    """The most recent date (today or before) the level's drill was due."""
    due = nth_sunday(today.year, today.month, SCHEDULE[level])
    if due <= today:
        return due
    year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    return nth_sunday(year, month, SCHEDULE[level])


def next_scheduled(level: str, today: datetime.date) -> datetime.date:
    due = nth_sunday(today.year, today.month, SCHEDULE[level])
    if due > today:
        return due
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return nth_sunday(year, month, SCHEDULE[level])


def queries(environment: str, levels: list[str]) -> list[dict[str, Any]]:
    """GetMetricData queries: per level, successes, misses and the longest duration per day."""
    found = []
    for index, level in enumerate(levels):
        dimensions = [{"Name": "Environment", "Value": environment}, {"Name": "Level", "Value": level},
                      {"Name": "Drill", "Value": "true"}]
        for key, metric, stat in (("ok", "RollbackSucceeded", "Sum"), ("missed", "RollbackTargetMissed", "Sum"),
                                  ("duration", "RollbackDuration", "Maximum")):
            found.append({"Id": f"{key}{index}", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                "Period": DAY, "Stat": stat}})
    return found


def history(levels: list[str], series: dict[str, dict[float, float]], today: datetime.date) -> dict[str, Any]:
    """Per level: the last successful drill (day, longest duration that day, whether a run missed its target),
    when it was last and is next due, and whether it is overdue. series: query id -> {epoch seconds: value}."""
    result = {}
    for index, level in enumerate(levels):
        successes = sorted((when for when, value in series.get(f"ok{index}", {}).items() if value > 0), reverse=True)
        last = successes[0] if successes else None
        last_day = datetime.datetime.fromtimestamp(last, datetime.timezone.utc).date() if last is not None else None
        due = last_scheduled(level, today)
        overdue = last_day is None or last_day < due - datetime.timedelta(days=GRACE_DAYS)
        result[NAMES[level]] = {
            "level": level,
            "last_success": last_day.isoformat() if last_day else None,
            "duration_seconds": series.get(f"duration{index}", {}).get(last) if last is not None else None,
            "target_missed": bool(series.get(f"missed{index}", {}).get(last)) if last is not None else None,
            "last_due": due.isoformat(),
            "next_due": next_scheduled(level, today).isoformat(),
            "overdue": overdue,
        }
    return result
