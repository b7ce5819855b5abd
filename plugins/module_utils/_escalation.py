# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The automatic rollback's decisions: the escalation ladder, the circuit breaker, and the impact report.

Pure functions of evaluations (module_utils/_triggers.py) and recorded runs, so that every rule of the ladder is
tested here, and playbooks/auto_rollback.yml only sequences: evaluate, decide, act, verify, decide again.
"""

from __future__ import annotations

import datetime
from typing import Any

RUN, NONE, HOLD, NEEDS_PERSON, RECOVERED, DRY_RUN_DONE = "run", "none", "hold", "needs_person", "recovered", "planned"
# The service metrics the impact report shows before and after, by metric name.
IMPACT_METRICS = {"ErrorRate": "error_rate_percent", "EmergencyOperationLatency": "emergency_latency_seconds",
                  "Availability": "availability_percent"}
LEVEL_PLAYBOOKS = {1: "playbooks/rollback_level1.yml", 2: "playbooks/rollback_level2.yml",
                   3: "playbooks/rollback_level3.yml"}


def _names(rules: list[str]) -> str:
    return ", ".join(rules) if rules else "none"


def decide(evaluation: dict[str, Any], ceiling: int, ran: list[int], dry_run: bool = False) -> dict[str, Any]:
    """The next step of the ladder.

    Nothing fires: nothing to do, or the rollback so far recovered the service. Something fires: run the level it
    calls for; after a level ran, climb to at least the next one (the level that ran did not end it). Above the
    ceiling, or past Level 3, a person decides. Rules that cannot be decided (inconclusive, unreadable) never
    act: when nothing fires they hold, and people are told.
    """
    breaching = list(evaluation.get("breaching") or [])
    unsure = list(evaluation.get("inconclusive") or []) + list(evaluation.get("errors") or [])
    current = max(ran, default=0)
    if not breaching:
        if current:
            return {"action": RECOVERED, "level": current, "trigger": None,
                    "reason": f"Level {current} ended the incident: no trigger rule fires any more."}
        if unsure:
            return {"action": HOLD, "level": 0, "trigger": None,
                    "reason": f"No trigger rule fires, but some cannot be decided or read ({_names(unsure)}): "
                              "no automatic action; people are told."}
        return {"action": NONE, "level": 0, "trigger": None, "reason": "No trigger rule fires: nothing to do."}
    level = max(int(evaluation.get("recommended_level") or 0), current + 1 if current else 0)
    by_level = {r["name"]: r["level"] for r in evaluation.get("rules", [])}
    calling = [name for name in breaching if by_level.get(name, level) >= level] or breaching
    trigger = _names(breaching)
    if dry_run and current:
        return {"action": DRY_RUN_DONE, "level": current, "trigger": trigger,
                "reason": f"Dry run: after Level {current}, the metrics would be watched until no rule fires, "
                          f"and the next level run only while rules still fire (now: {trigger})."}
    if level > 3:
        return {"action": NEEDS_PERSON, "level": 3, "trigger": trigger,
                "reason": f"Every level ran and rules still fire ({trigger}): a person must look at the service."}
    if level > ceiling:
        return {"action": NEEDS_PERSON, "level": level, "trigger": trigger,
                "reason": f"The firing rules ({trigger}) call for Level {level}, above the automatic ceiling "
                          f"(Level {ceiling}): a person must run {LEVEL_PLAYBOOKS[level]}."}
    verb = "escalate to" if current else "run"
    return {"action": RUN, "level": level, "trigger": trigger,
            "reason": f"The firing rules ({_names(calling)}) call for Level {level}: {verb} Level {level}."}


# The circuit breaker: a cooldown after an automatic rollback, and at most N of them per window.


def guard_verdict(runs: list[dict[str, Any]], now: float, cooldown: float, max_runs: int, window: float
                  ) -> dict[str, Any]:
    """Whether one more automatic rollback may act now, given the ones recorded (each with `at`, epoch s)."""
    recent = sorted(float(run["at"]) for run in runs if now - float(run["at"]) < window)
    last = recent[-1] if recent else None
    remaining = round(last + cooldown - now, 1) if last is not None else 0.0
    verdict = {"runs_in_window": len(recent), "last_at": last, "cooldown_remaining_seconds": max(0.0, remaining)}
    if last is not None and remaining > 0:
        return dict(verdict, allowed=False,
                    reason=f"cooldown: the last automatic rollback was {round(now - last)}s ago; the next may act "
                           f"in {round(remaining)}s (cooldown {round(cooldown)}s)")
    if len(recent) >= max_runs:
        return dict(verdict, allowed=False,
                    reason=f"circuit breaker open: {len(recent)} automatic rollbacks in the last {round(window)}s "
                           f"(at most {max_runs}); a person decides")
    return dict(verdict, allowed=True, reason=f"{len(recent)} automatic rollbacks in the window, none in cooldown")


# The impact report.


def _parse(timestamp: str) -> float:
    return datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC).timestamp()


def service_metrics(evaluation: dict[str, Any] | None) -> dict[str, float | None]:
    """The latest value of error rate, emergency latency and availability the rules read."""
    found: dict[str, float | None] = dict.fromkeys(IMPACT_METRICS.values())
    for rule in (evaluation or {}).get("rules", []):
        key = IMPACT_METRICS.get(rule.get("metric"))
        values = [p["value"] for p in rule.get("datapoints", []) if p.get("value") is not None]
        if key and values and found[key] is None:
            found[key] = round(values[-1], 3)
    return found


def first_breach(evaluation: dict[str, Any]) -> float | None:
    """Start of the earliest breaching period the evaluation saw (the incident began then, or earlier)."""
    starts = [_parse(p["timestamp"]) for rule in evaluation.get("rules", []) if rule.get("state") == "breaching"
              for p in rule.get("datapoints", []) if p.get("breaching")]
    return min(starts) if starts else None


def impact(before: dict[str, Any], latest: dict[str, Any], decision: dict[str, Any], ran: list[int],
           recovered_at: float | None) -> dict[str, Any]:
    """Before and after, the user-impact duration (first breach to the verified recovery), and the summary."""
    began = first_breach(before)
    duration = round(recovered_at - began, 1) if began is not None and recovered_at is not None else None
    report = {
        "environment": before.get("environment"),
        "action": decision["action"],
        "levels_run": ran,
        "trigger": decision.get("trigger") or _names(before.get("breaching") or []),
        "before": service_metrics(before),
        "after": service_metrics(latest),
        "first_breach": None if began is None else datetime.datetime.fromtimestamp(
            began, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user_impact_seconds": duration,
        "reason": decision["reason"],
    }
    report["summary"] = auto_summary(report)
    return report


def _value(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:g}{unit}"


def auto_summary(report: dict[str, Any]) -> str:
    levels = ", ".join(f"Level {level}" for level in report["levels_run"]) or "no rollback"
    before, after = report["before"], report["after"]
    parts = [f"Automatic rollback of {report['environment']}: {levels}; {report['reason']}"]
    if report["levels_run"]:
        parts.append(
            f"Error rate {_value(before['error_rate_percent'], '%')} -> {_value(after['error_rate_percent'], '%')}, "
            f"emergency latency {_value(before['emergency_latency_seconds'], 's')} -> "
            f"{_value(after['emergency_latency_seconds'], 's')}, availability "
            f"{_value(before['availability_percent'], '%')} -> {_value(after['availability_percent'], '%')}.")
    if report["user_impact_seconds"] is not None:
        parts.append(f"User impact {report['user_impact_seconds']:g}s (first breach {report['first_breach']} to "
                     "verified recovery).")
    return " ".join(parts)
