# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Trigger rules: their schema and defaults, and their evaluation against CloudWatch datapoints.

A rule is a CloudWatch alarm written as data (docs/metrics.md): a metric and statistic over a period, a comparison
with a threshold, M out of N periods, what missing data means, and the rollback level it calls for. This file is
the one place a rule is understood: triggers_info, the backtest, auto_rollback's decisions and the Event-Driven
Ansible source all evaluate through it. The evaluation is pure (datapoints in, verdicts out); fetch() is the only
part that talks to AWS, and it asks for every rule of an environment in one GetMetricData call.
"""

from __future__ import annotations

import copy
import math
import operator
import re
from collections.abc import Callable
from typing import Any

NAMESPACE = "Matbakh/HybridRouting"
ENVIRONMENT_DIMENSION = "Environment"
MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
MISSING_DATA_MODES = ("missing", "breaching", "notBreaching", "ignore")
STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100)$")
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
LEVELS = (1, 2, 3)

OK, BREACHING, INCONCLUSIVE, ERROR = "ok", "breaching", "inconclusive", "error"

RULE_KEYS = {"name", "description", "metric", "comparison", "threshold", "evaluation_periods",
             "datapoints_to_alarm", "treat_missing_data", "min_sample_count", "level"}
METRIC_KEYS = {"namespace", "name", "dimensions", "statistic", "period", "unit"}


def _rule(name: str, metric: str, unit: str, statistic: str, comparison: str, threshold: float, periods: int,
          level: int, description: str, period: int = 60, missing: str = "missing") -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "metric": {"namespace": NAMESPACE, "name": metric, "dimensions": {}, "statistic": statistic,
                   "period": period, "unit": unit},
        "comparison": comparison,
        "threshold": threshold,
        "evaluation_periods": periods,
        "datapoints_to_alarm": periods,
        "treat_missing_data": missing,
        "min_sample_count": None,
        "level": level,
    }


# The seed's triggers, with the levels of docs/runbook.md's decision matrix. Edit docs/metrics.md with this list.
DEFAULT_RULES: list[dict[str, Any]] = [
    _rule("emergency_latency", "EmergencyOperationLatency", "Seconds", "Average", "GreaterThanThreshold", 10, 5, 1,
          "Emergency-operation latency above 10 s for 5 minutes"),
    _rule("critical_latency", "CriticalOperationLatency", "Seconds", "Average", "GreaterThanThreshold", 20, 5, 1,
          "Critical-operation latency above 20 s for 5 minutes"),
    _rule("error_rate", "ErrorRate", "Percent", "Average", "GreaterThanThreshold", 10, 5, 2,
          "System error rate above 10 % for 5 minutes"),
    _rule("availability", "Availability", "Percent", "Average", "LessThanThreshold", 95, 10, 3,
          "Availability below 95 % for 10 minutes"),
    _rule("gdpr_compliance", "GDPRComplianceRate", "Percent", "Minimum", "LessThanThreshold", 100, 1, 2,
          "GDPR compliance below 100 % at any time"),
    _rule("security_score", "SecurityScore", "None", "Average", "LessThanThreshold", 80, 10, 2,
          "Security score below 80/100 for 10 minutes"),
    _rule("pii_detection_failures", "PIIDetectionFailureRate", "Percent", "Average", "GreaterThanThreshold", 5, 1, 2,
          "PII detection failures above 5 %"),
    _rule("audit_trail_integrity", "AuditTrailIntegrityFailures", "Count", "Sum", "GreaterThanThreshold", 0, 1, 2,
          "Any audit trail integrity failure"),
    _rule("cost_overrun", "CostAgainstBudget", "Percent", "Average", "GreaterThanThreshold", 200, 12, 1,
          "Cost above 200 % of budget for 1 hour", period=300),
    _rule("cost_spike", "CostSpike", "Percent", "Average", "GreaterThanThreshold", 500, 3, 1,
          "Cost spike above 500 % of the usual for 15 minutes", period=300),
]


class RuleError(ValueError):
    """A malformed rule: the message names the rule and the key."""


def default_rules() -> list[dict[str, Any]]:
    return copy.deepcopy(DEFAULT_RULES)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_statistic(value: Any) -> bool:
    return isinstance(value, str) and (value in STATISTICS or PERCENTILE.match(value) is not None)


def _valid_period(value: Any) -> bool:
    return _int(value) and (value in HIGH_RESOLUTION_PERIODS or (value > 0 and value % 60 == 0))


def validate_rules(rules: Any) -> list[dict[str, Any]]:
    """The rules with their defaults filled in; the first malformed one raises RuleError naming rule and key."""
    if not isinstance(rules, list) or not rules:
        raise RuleError("trigger rules must be a non-empty list of rules (see docs/metrics.md)")
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        label = f"trigger rule #{index + 1}"
        if not isinstance(rule, dict):
            raise RuleError(f"{label} must be a mapping, got {type(rule).__name__}")
        name = rule.get("name")
        if not isinstance(name, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", name):
            raise RuleError(f"{label}: key 'name' must be a word of letters, digits, - and _ (got {name!r})")
        label = f"trigger rule '{name}'"
        if name in seen:
            raise RuleError(f"{label}: key 'name' is used by two rules; names must be unique")
        seen.add(name)
        checked.append(_validate_rule(rule, label))
    return checked


def rules_or_defaults(rules: Any) -> list[dict[str, Any]]:
    """A module's or source's `rules` option: None means the defaults; either way validated."""
    return validate_rules(default_rules() if rules is None else rules)


def _validate_rule(rule: dict[str, Any], label: str) -> dict[str, Any]:
    def bad(key: str, expected: str) -> RuleError:
        return RuleError(f"{label}: key '{key}' must be {expected} (got {_shown(key, rule)!r})")

    unknown = sorted(set(rule) - RULE_KEYS)
    if unknown:
        raise RuleError(f"{label}: unknown key '{unknown[0]}' (known: {', '.join(sorted(RULE_KEYS))})")
    metric = rule.get("metric")
    if not isinstance(metric, dict):
        raise bad("metric", "a mapping with name, statistic and period")
    unknown = sorted(set(metric) - METRIC_KEYS)
    if unknown:
        raise RuleError(f"{label}: unknown key 'metric.{unknown[0]}' (known: {', '.join(sorted(METRIC_KEYS))})")
    if not isinstance(metric.get("name"), str) or not metric["name"]:
        raise bad("metric.name", "the CloudWatch metric name")
    namespace = metric.get("namespace", NAMESPACE)
    if not isinstance(namespace, str) or not namespace:
        raise bad("metric.namespace", "a CloudWatch namespace")
    dimensions = metric.get("dimensions") or {}
    if not isinstance(dimensions, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in dimensions.items()):
        raise bad("metric.dimensions", "a mapping of dimension names to string values")
    if not _valid_statistic(metric.get("statistic")):
        raise bad("metric.statistic", f"one of {', '.join(STATISTICS)} or a percentile such as p99")
    if not _valid_period(metric.get("period")):
        raise bad("metric.period", "seconds: 1, 5, 10, 30 or a multiple of 60")
    unit = metric.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise bad("metric.unit", "a CloudWatch unit name such as Seconds or Percent")
    if rule.get("comparison") not in COMPARISONS:
        raise bad("comparison", f"one of {', '.join(COMPARISONS)}")
    if not _number(rule.get("threshold")):
        raise bad("threshold", "a number")
    periods = rule.get("evaluation_periods")
    if not _int(periods) or periods < 1:
        raise bad("evaluation_periods", "a whole number of periods, 1 or more")
    if periods * metric["period"] > 86_400:
        raise RuleError(f"{label}: evaluation_periods x metric.period must be at most one day (86400 s), got "
                        f"{periods * metric['period']} s")
    datapoints = rule.get("datapoints_to_alarm", periods)
    if not _int(datapoints) or not 1 <= datapoints <= periods:
        raise bad("datapoints_to_alarm", f"a whole number from 1 to evaluation_periods ({periods})")
    missing = rule.get("treat_missing_data", "missing")
    if missing not in MISSING_DATA_MODES:
        raise bad("treat_missing_data", f"one of {', '.join(MISSING_DATA_MODES)}")
    min_samples = rule.get("min_sample_count")
    if min_samples is not None and (not _int(min_samples) or min_samples < 1):
        raise bad("min_sample_count", "a whole number, 1 or more, or left out")
    if rule.get("level") not in LEVELS:
        raise bad("level", "the rollback level it calls for: 1, 2 or 3")
    description = rule.get("description")
    if description is not None and not isinstance(description, str):
        raise bad("description", "text")
    return {
        "name": rule["name"],
        "description": description or "",
        "metric": {"namespace": namespace, "name": metric["name"], "dimensions": dict(dimensions),
                   "statistic": metric["statistic"], "period": metric["period"], "unit": unit},
        "comparison": rule["comparison"],
        "threshold": rule["threshold"],
        "evaluation_periods": periods,
        "datapoints_to_alarm": datapoints,
        "treat_missing_data": missing,
        "min_sample_count": min_samples,
        "level": rule["level"],
    }


def _shown(key: str, rule: dict[str, Any]) -> Any:
    value: Any = rule
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


# The window: one GetMetricData call covers every rule of an environment.


def window(rules: list[dict[str, Any]], now: float) -> tuple[int, int]:
    """(start, end) in epoch seconds. end is now rounded down to whole periods (CloudWatch returns datapoints
    for whole periods, and an unfinished one would read as a dip); start lies far enough back for the longest
    rule and on a boundary of every period, so each rule's periods line up with the buckets returned."""
    periods = [rule["metric"]["period"] for rule in rules]
    align = min(60, math.gcd(*periods))
    end = int(now // align * align)
    common = math.lcm(*periods)
    span = max(rule["metric"]["period"] * rule["evaluation_periods"] for rule in rules)
    span = -(-span // common) * common
    # end is a multiple of `align` but perhaps not of a longer period: the rule's own slots are counted back
    # from end, and start is moved back to a bucket boundary of every period counted from start.
    return end - span, end


def queries(rules: list[dict[str, Any]], environment: str) -> list[dict[str, Any]]:
    """The MetricDataQueries for every rule: r<i> reads the statistic, s<i> the sample count where a rule
    asks for a minimum."""
    result = []
    for index, rule in enumerate(rules):
        metric = rule["metric"]
        dimensions = dict(metric["dimensions"])
        dimensions.setdefault(ENVIRONMENT_DIMENSION, environment)
        stat = {
            "Metric": {"Namespace": metric["namespace"], "MetricName": metric["name"],
                       "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]},
            "Period": metric["period"],
            "Stat": metric["statistic"],
        }
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        result.append({"Id": f"r{index}", "MetricStat": stat, "ReturnData": True})
        if rule.get("min_sample_count"):
            counted = dict(stat, Stat="SampleCount")
            result.append({"Id": f"s{index}", "MetricStat": counted, "ReturnData": True})
    return result


def _epoch(timestamp: Any) -> float:
    return timestamp.timestamp() if hasattr(timestamp, "timestamp") else float(timestamp)


def _iso(epoch: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def slots(rule: dict[str, Any], series: dict[str, Any] | None, samples: dict[str, Any] | None, end: float
          ) -> list[dict[str, Any]]:
    """The rule's evaluation periods, oldest first, each with its value (None when missing)."""
    period = rule["metric"]["period"]
    count = rule["evaluation_periods"]
    first = end - count * period
    values: list[float | None] = [None] * count
    sample_counts: list[float | None] = [None] * count
    for target, data in ((values, series), (sample_counts, samples)):
        for timestamp, value in zip((data or {}).get("timestamps", []), (data or {}).get("values", []), strict=False):
            position = math.floor((_epoch(timestamp) - first) / period + 1e-9)
            if 0 <= position < count:
                target[position] = float(value)
    result = []
    for position in range(count):
        value = values[position]
        thin = rule.get("min_sample_count") and (sample_counts[position] or 0) < rule["min_sample_count"]
        slot: dict[str, Any] = {"timestamp": _iso(first + position * period), "value": value}
        if value is not None and thin:
            slot.update(value=None, ignored=f"{int(sample_counts[position] or 0)} samples, fewer than "
                                            f"{rule['min_sample_count']}")
        result.append(slot)
    return result


def judge(rule: dict[str, Any], periods: list[dict[str, Any]]) -> dict[str, Any]:
    """A rule's verdict over its periods, as a CloudWatch alarm would judge them (M out of N, missing data
    treated as the rule says). Without an alarm's memory, `missing` and `ignore` cannot call a verdict that
    depends on the periods that are missing: that is inconclusive, never a pass."""
    compare = COMPARISONS[rule["comparison"]]
    needed = rule["datapoints_to_alarm"]
    mode = rule["treat_missing_data"]
    for slot in periods:
        slot["breaching"] = None if slot["value"] is None else compare(slot["value"], rule["threshold"])
    breaching = sum(1 for slot in periods if slot["breaching"])
    missing = sum(1 for slot in periods if slot["breaching"] is None)
    present = len(periods) - missing
    if mode == "breaching":
        breaching += missing
    if breaching >= needed:
        state = BREACHING
    elif mode in ("breaching", "notBreaching"):
        state = OK
    elif present == 0 or (mode == "missing" and breaching + missing >= needed):
        state = INCONCLUSIVE
    else:
        state = OK
    reason = _reason(rule, state, breaching, missing, len(periods))
    return {"state": state, "reason": reason, "breaching_periods": breaching, "missing_periods": missing}


def _reason(rule: dict[str, Any], state: str, breaching: int, missing: int, total: int) -> str:
    metric = rule["metric"]
    what = (f"{metric['name']} {metric['statistic']} {_SYMBOLS[rule['comparison']]} {rule['threshold']:g} "
            f"in {rule['datapoints_to_alarm']} of {total} periods of {metric['period']}s")
    counted = f"{breaching} breaching, {missing} missing (treat_missing_data={rule['treat_missing_data']})"
    verdict = {OK: "holds", BREACHING: "fires", INCONCLUSIVE: "cannot be decided"}[state]
    return f"{what}: {verdict}; {counted}"


_SYMBOLS = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=", "LessThanThreshold": "<",
            "LessThanOrEqualToThreshold": "<="}


def evaluate(rules: list[dict[str, Any]], environment: str, data: dict[str, dict[str, Any]], end: float,
             error: str | None = None) -> dict[str, Any]:
    """Every rule's verdict from the query results (by query id) of one window; `error` fails every rule."""
    results = []
    for index, rule in enumerate(rules):
        series = data.get(f"r{index}")
        problem = error or _query_problem(series)
        base = {"name": rule["name"], "level": rule["level"], "metric": rule["metric"]["name"],
                "comparison": rule["comparison"], "threshold": rule["threshold"]}
        if problem:
            results.append(dict(base, state=ERROR, reason=problem, datapoints=[]))
            continue
        periods = slots(rule, series, data.get(f"s{index}"), end)
        verdict = judge(rule, periods)
        results.append(dict(base, state=verdict["state"], reason=verdict["reason"], datapoints=periods))
    return summarize(environment, results, end)


def _query_problem(series: dict[str, Any] | None) -> str | None:
    if series is None:
        return "CloudWatch returned no result for this rule's query"
    status = series.get("status", "Complete")
    if status not in ("Complete", "PartialData"):
        messages = "; ".join(m.get("Value", "") for m in series.get("messages", []))
        return f"CloudWatch could not read the metric ({status}{': ' + messages if messages else ''})"
    return None


def summarize(environment: str, results: list[dict[str, Any]], end: float) -> dict[str, Any]:
    by_state = {state: [r["name"] for r in results if r["state"] == state]
                for state in (OK, BREACHING, INCONCLUSIVE, ERROR)}
    levels = [r["level"] for r in results if r["state"] == BREACHING]
    return {
        "environment": environment,
        "evaluated_until": _iso(end),
        "rules": results,
        "breaching": by_state[BREACHING],
        "inconclusive": by_state[INCONCLUSIVE],
        "errors": by_state[ERROR],
        "recommended_level": max(levels) if levels else 0,
        "all_clear": not by_state[BREACHING] and not by_state[ERROR],
    }


def recovery_seconds(rules: list[dict[str, Any]], firing: list[str]) -> float:
    """How long the metrics need to show that the firing rules recovered: a rule stops firing once
    N - M + 1 of its periods are good, and the period in progress is not evaluated yet, hence N - M + 2."""
    needed = [(r["evaluation_periods"] - r["datapoints_to_alarm"] + 2) * r["metric"]["period"]
              for r in rules if r["name"] in firing]
    return float(max(needed, default=0))


# Talking to CloudWatch: one GetMetricData call per 500 queries (one per environment with the default rules).


def fetch(client: Any, query_list: list[dict[str, Any]], start: float, end: float,
          call: Callable[..., Any]) -> tuple[dict[str, dict[str, Any]], int]:
    """Query results by id, and the number of GetMetricData calls it took (pages included)."""
    import datetime

    begin = datetime.datetime.fromtimestamp(start, datetime.UTC)
    until = datetime.datetime.fromtimestamp(end, datetime.UTC)
    data: dict[str, dict[str, Any]] = {}
    calls = 0
    for offset in range(0, len(query_list), MAX_QUERIES_PER_CALL):
        chunk = query_list[offset:offset + MAX_QUERIES_PER_CALL]
        token = None
        while True:
            kwargs: dict[str, Any] = {"MetricDataQueries": chunk, "StartTime": begin, "EndTime": until,
                                      "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            page = call("Reading the trigger metrics (GetMetricData)", client.get_metric_data, **kwargs)
            calls += 1
            for result in page.get("MetricDataResults", []):
                entry = data.setdefault(result["Id"], {"timestamps": [], "values": [], "messages": []})
                entry["timestamps"] += list(result.get("Timestamps", []))
                entry["values"] += list(result.get("Values", []))
                entry["status"] = result.get("StatusCode", "Complete")
                entry["messages"] += list(result.get("Messages", []))
            token = page.get("NextToken")
            if not token:
                break
    return data, calls


# Back-testing: the rules replayed over a past period, to tune thresholds before acting on them.


def backtest(rules: list[dict[str, Any]], data: dict[str, dict[str, Any]], start: float, end: float
             ) -> dict[str, Any]:
    """When each rule would have fired between start and end, and at which level.

    Each rule is judged at every boundary of its own period (where its periods line up with the datapoints, as
    an alarm on it would be), from the first boundary after start to end; consecutive firing judgements make one
    span. Spans of all rules that overlap or touch make one incident, at the highest level among them."""
    spans: dict[str, list[dict[str, Any]]] = {}
    for index, rule in enumerate(rules):
        period = rule["metric"]["period"]
        current: dict[str, Any] | None = None
        found: list[dict[str, Any]] = []
        at = -(-int(start) // period) * period
        while at <= end:
            verdict = judge(rule, slots(rule, data.get(f"r{index}"), data.get(f"s{index}"), at))["state"]
            if verdict == BREACHING:
                if current is None:
                    current = {"rule": rule["name"], "level": rule["level"], "from": at, "to": at}
                    found.append(current)
                current["to"] = at
            else:
                current = None
            at += period
        spans[rule["name"]] = found
    incidents = _merge([span for found in spans.values() for span in found])
    return {
        "start": _iso(start),
        "end": _iso(end),
        "rules": {name: [_shown_span(s) for s in found] for name, found in spans.items()},
        "incidents": [dict(_shown_span(i), rules=i["rules"]) for i in incidents],
        "highest_level": max((i["level"] for i in incidents), default=0),
        "summary": _backtest_lines(spans, incidents, start, end),
    }


def _merge(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    incidents: list[dict[str, Any]] = []
    for span in sorted(spans, key=lambda s: s["from"]):
        last = incidents[-1] if incidents else None
        if last is not None and span["from"] <= last["to"] + 60:
            last["to"] = max(last["to"], span["to"])
            last["level"] = max(last["level"], span["level"])
            if span["rule"] not in last["rules"]:
                last["rules"].append(span["rule"])
        else:
            incidents.append({"from": span["from"], "to": span["to"], "level": span["level"], "rules": [span["rule"]]})
    return incidents


def _shown_span(span: dict[str, Any]) -> dict[str, Any]:
    shown = {"from": _iso(span["from"]), "to": _iso(span["to"]), "level": span["level"],
             "minutes": round((span["to"] - span["from"]) / 60, 1)}
    if "rule" in span:
        shown["rule"] = span["rule"]
    return shown


def _backtest_lines(spans: dict[str, list[dict[str, Any]]], incidents: list[dict[str, Any]], start: float,
                    end: float) -> list[str]:
    lines = [f"Back-test {_iso(start)} to {_iso(end)}: {len(incidents)} incident(s) would have triggered a rollback."]
    for incident in incidents:
        lines.append(f"  {_iso(incident['from'])} to {_iso(incident['to'])}: Level {incident['level']} "
                     f"({', '.join(incident['rules'])})")
    quiet = [name for name, found in spans.items() if not found]
    if quiet:
        lines.append(f"  Never fired: {', '.join(quiet)}.")
    return lines
