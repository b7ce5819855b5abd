"""Trigger rules (module_utils/_triggers.py): schema, window, periods, verdicts, missing data, fetch."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _triggers as t

END = 1_800_000_000  # a multiple of 60 and of 300


def rule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "latency", "metric": {"name": "Latency", "statistic": "Average", "period": 60},
        "comparison": "GreaterThanThreshold", "threshold": 10, "evaluation_periods": 5, "level": 1,
    }
    metric = overrides.pop("metric", {})
    base.update(overrides)
    base["metric"] = dict(base["metric"], **metric) if isinstance(metric, dict) else metric
    return t.validate_rules([base])[0]


def series(values: list[float | None], end: int = END, period: int = 60) -> dict[str, Any]:
    """A query result for the periods before end, oldest first; None leaves a period out."""
    first = end - len(values) * period
    pairs = [(first + i * period, v) for i, v in enumerate(values) if v is not None]
    return {"timestamps": [p[0] for p in pairs], "values": [p[1] for p in pairs], "status": "Complete"}


def verdict(values: list[float | None], **overrides: Any) -> dict[str, Any]:
    checked = rule(evaluation_periods=len(values), **overrides)
    return t.evaluate([checked], "prod", {"r0": series(values, period=checked["metric"]["period"])}, END)["rules"][0]


# -- the defaults


def test_the_defaults_are_valid_and_cover_every_trigger_of_the_seed() -> None:
    rules = t.validate_rules(t.default_rules())
    assert [r["name"] for r in rules] == [
        "emergency_latency", "critical_latency", "error_rate", "availability", "gdpr_compliance", "security_score",
        "pii_detection_failures", "audit_trail_integrity", "cost_overrun", "cost_spike"]
    windows = {r["name"]: r["metric"]["period"] * r["evaluation_periods"] for r in rules}
    assert windows["emergency_latency"] == windows["error_rate"] == 300
    assert windows["availability"] == windows["security_score"] == 600
    assert windows["cost_overrun"] == 3600 and windows["cost_spike"] == 900
    assert {r["name"]: r["level"] for r in rules}["availability"] == 3


def test_default_rules_are_a_copy() -> None:
    t.default_rules()[0]["threshold"] = 0
    assert t.DEFAULT_RULES[0]["threshold"] == 10


# -- malformed rules: the message names the rule and the key


@pytest.mark.parametrize(("change", "expected"), [
    ({"name": "two words"}, "trigger rule #1: key 'name'"),
    ({"metric": "Latency"}, "key 'metric' must be a mapping"),
    ({"metric": {"name": ""}}, "key 'metric.name'"),
    ({"metric": {"statistic": "Mean"}}, "key 'metric.statistic' must be one of Average"),
    ({"metric": {"period": 45}}, "key 'metric.period' must be seconds: 1, 5, 10, 30 or a multiple of 60"),
    ({"metric": {"period": "60"}}, "key 'metric.period'"),
    ({"metric": {"dimensions": {"Environment": 1}}}, "key 'metric.dimensions'"),
    ({"metric": {"unit": 5}}, "key 'metric.unit'"),
    ({"metric": {"perod": 60}}, "unknown key 'metric.perod'"),
    ({"comparison": ">"}, "key 'comparison' must be one of GreaterThanThreshold"),
    ({"threshold": "10"}, "key 'threshold' must be a number (got '10')"),
    ({"threshold": True}, "key 'threshold' must be a number"),
    ({"evaluation_periods": 0}, "key 'evaluation_periods'"),
    ({"evaluation_periods": 2000}, "at most one day"),
    ({"datapoints_to_alarm": 6}, "key 'datapoints_to_alarm' must be a whole number from 1 to evaluation_periods (5)"),
    ({"treat_missing_data": "Breaching"}, "key 'treat_missing_data' must be one of missing, breaching"),
    ({"min_sample_count": 0}, "key 'min_sample_count'"),
    ({"level": 4}, "key 'level' must be the rollback level it calls for: 1, 2 or 3 (got 4)"),
    ({"levle": 2}, "unknown key 'levle'"),
])
def test_a_malformed_rule_is_named_with_its_key(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(t.RuleError) as caught:
        rule(**change)
    assert expected in str(caught.value)
    if "name" not in change:
        assert "trigger rule 'latency'" in str(caught.value)


@pytest.mark.parametrize(("rules", "expected"), [
    (None, "non-empty list"),
    ([], "non-empty list"),
    (["latency"], "trigger rule #1 must be a mapping"),
])
def test_the_rule_list_itself(rules: Any, expected: str) -> None:
    with pytest.raises(t.RuleError, match=expected):
        t.validate_rules(rules)


def test_two_rules_with_one_name() -> None:
    one = t.default_rules()[0]
    with pytest.raises(t.RuleError, match="'emergency_latency': key 'name' is used by two rules"):
        t.validate_rules([one, copy.deepcopy(one)])


def test_defaults_are_filled_in() -> None:
    checked = rule()
    assert checked["datapoints_to_alarm"] == 5
    assert checked["treat_missing_data"] == "missing"
    assert checked["metric"]["namespace"] == t.NAMESPACE
    assert checked["min_sample_count"] is None


def test_percentiles_are_statistics() -> None:
    assert rule(metric={"statistic": "p99"})["metric"]["statistic"] == "p99"
    assert rule(metric={"statistic": "p99.9"})["metric"]["statistic"] == "p99.9"


# -- the window


def test_the_window_ends_at_the_last_whole_minute_and_reaches_the_longest_rule() -> None:
    rules = t.validate_rules(t.default_rules())
    start, end = t.window(rules, END + 59.9)
    assert end == END
    assert end - start == 3600
    assert start % 300 == 0


def test_high_resolution_rules_align_to_their_period() -> None:
    rules = [rule(metric={"period": 10}, evaluation_periods=3), rule(name="b", metric={"period": 30})]
    start, end = t.window(rules, END + 17)
    assert end == END + 10
    assert (end - start) % 30 == 0 and end - start >= 150


def test_one_query_per_rule_and_a_sample_count_where_asked() -> None:
    rules = [rule(), rule(name="b", min_sample_count=3, metric={"unit": "Percent", "dimensions": {"Region": "x"}})]
    found = t.queries(rules, "prod")
    assert [q["Id"] for q in found] == ["r0", "r1", "s1"]
    assert found[0]["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "Environment", "Value": "prod"}]
    assert found[1]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "Environment", "Value": "prod"}, {"Name": "Region", "Value": "x"}]
    assert found[1]["MetricStat"]["Unit"] == "Percent"
    assert found[2]["MetricStat"]["Stat"] == "SampleCount"


def test_a_rule_may_name_its_own_environment_dimension() -> None:
    found = t.queries([rule(metric={"dimensions": {"Environment": "shared"}})], "prod")
    assert found[0]["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "Environment", "Value": "shared"}]


# -- periods and verdicts


def test_datapoints_outside_the_rules_own_periods_do_not_count() -> None:
    checked = rule(evaluation_periods=2)
    data = {"timestamps": [END - 180, END - 120, END - 60, END], "values": [99, 1, 2, 99]}
    periods = t.slots(checked, data, None, END)
    assert [p["value"] for p in periods] == [1, 2]
    assert periods[0]["timestamp"] == "2027-01-15T07:58:00Z"


@pytest.mark.parametrize(("values", "state"), [
    ([11, 11, 11, 11, 11], "breaching"),
    ([11, 11, 11, 11, 9], "ok"),        # one good period clears a 5-of-5 rule
    ([10, 10, 10, 10, 10], "ok"),       # at the threshold is not above it
    ([10.001] * 5, "breaching"),
    ([9, 9, 9, 9, 9], "ok"),
])
def test_m_of_n_at_the_boundary(values: list[float], state: str) -> None:
    assert verdict(values)["state"] == state


def test_greater_or_equal_includes_the_threshold() -> None:
    assert verdict([10] * 5, comparison="GreaterThanOrEqualToThreshold")["state"] == "breaching"
    assert verdict([100, 100, 99.9], comparison="LessThanThreshold", threshold=100)["state"] == "ok"
    assert verdict([99.9], comparison="LessThanThreshold", threshold=100)["state"] == "breaching"
    assert verdict([80, 80], comparison="LessThanOrEqualToThreshold", threshold=80)["state"] == "breaching"


def test_datapoints_to_alarm_lower_than_the_periods() -> None:
    assert verdict([11, 9, 11, 9, 11], datapoints_to_alarm=3)["state"] == "breaching"
    assert verdict([11, 9, 9, 9, 11], datapoints_to_alarm=3)["state"] == "ok"


# Missing data, each mode: gaps decide only where the rule says they may.
@pytest.mark.parametrize(("mode", "values", "state"), [
    ("breaching", [11, None, 11, None, 11], "breaching"),
    ("breaching", [None] * 5, "breaching"),
    ("breaching", [11, None, 9, None, 11], "ok"),
    ("notBreaching", [11, None, 11, 11, 11], "ok"),
    ("notBreaching", [None] * 5, "ok"),
    ("missing", [None] * 5, "inconclusive"),
    ("missing", [11, None, 11, 11, 11], "inconclusive"),  # the gap could be the fifth breach
    ("missing", [11, None, 9, 11, 11], "ok"),             # a good period rules the 5-of-5 breach out
    ("ignore", [None] * 5, "inconclusive"),
    ("ignore", [11, None, 11, 11, 11], "ok"),              # only present periods count: 4 of the 5 needed
    ("ignore", [11, None, 11, None, 11], "breaching"),    # 3 needed, 3 present breach
])
def test_missing_data_modes(mode: str, values: list[float | None], state: str) -> None:
    needed = 3 if values == [11, None, 11, None, 11] and mode == "ignore" else 5
    result = verdict(values, treat_missing_data=mode, datapoints_to_alarm=needed)
    assert result["state"] == state, result["reason"]
    assert f"treat_missing_data={mode}" in result["reason"]


def test_a_period_with_too_few_samples_counts_as_missing() -> None:
    checked = rule(evaluation_periods=2, min_sample_count=10, treat_missing_data="notBreaching")
    data = {"r0": series([50, 50]), "s0": series([3, 12])}
    result = t.evaluate([checked], "prod", data, END)["rules"][0]
    assert [p["value"] for p in result["datapoints"]] == [None, 50]
    assert result["datapoints"][0]["ignored"] == "3 samples, fewer than 10"
    assert result["state"] == "ok"


def test_the_deciding_datapoints_are_returned_with_their_verdicts() -> None:
    result = verdict([11, None, 12], treat_missing_data="breaching")
    assert [(p["value"], p["breaching"]) for p in result["datapoints"]] == [(11, True), (None, None), (12, True)]
    assert result["reason"].startswith("Latency Average > 10 in 3 of 3 periods of 60s: fires")


# -- several rules, errors, the recommended level


def test_the_recommended_level_is_the_highest_breaching() -> None:
    rules = [rule(), rule(name="errors", level=2), rule(name="availability", level=3)]
    data = {"r0": series([11] * 5), "r1": series([11] * 5), "r2": series([1] * 5)}
    found = t.evaluate(rules, "prod", data, END)
    assert found["breaching"] == ["latency", "errors"]
    assert found["recommended_level"] == 2
    assert found["all_clear"] is False


def test_nothing_breaching_recommends_nothing() -> None:
    found = t.evaluate([rule()], "prod", {"r0": series([1] * 5)}, END)
    assert found["recommended_level"] == 0 and found["all_clear"] is True


def test_an_unreadable_metric_is_an_error_never_a_pass() -> None:
    data = {"r0": {"timestamps": [], "values": [], "status": "Forbidden", "messages": [{"Value": "denied"}]}}
    found = t.evaluate([rule()], "prod", data, END)
    assert found["rules"][0]["state"] == "error"
    assert "Forbidden: denied" in found["rules"][0]["reason"]
    assert found["errors"] == ["latency"] and found["all_clear"] is False


def test_a_failed_call_fails_every_rule() -> None:
    found = t.evaluate([rule(), rule(name="b")], "prod", {}, END, error="GetMetricData failed: AccessDenied")
    assert [r["state"] for r in found["rules"]] == ["error", "error"]
    assert found["recommended_level"] == 0


def test_a_query_without_a_result_is_an_error() -> None:
    assert t.evaluate([rule()], "prod", {}, END)["rules"][0]["state"] == "error"


# -- fetch: 500 queries a call, pages merged


class FakeCloudWatch:
    def __init__(self, pages: int = 1):
        self.calls: list[dict[str, Any]] = []
        self.pages = pages

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        page = sum(1 for call in self.calls if call["MetricDataQueries"] == kwargs["MetricDataQueries"])
        results = [{"Id": q["Id"], "Timestamps": [page], "Values": [float(page)], "StatusCode": "Complete"}
                   for q in kwargs["MetricDataQueries"]]
        return {"MetricDataResults": results, **({"NextToken": "more"} if page < self.pages else {})}


def direct(_description: str, method: Any, **kwargs: Any) -> Any:
    return method(**kwargs)


def test_fetch_asks_for_500_queries_a_call() -> None:
    client = FakeCloudWatch()
    query_list = [{"Id": f"r{i}"} for i in range(501)]
    data, calls = t.fetch(client, query_list, END - 300, END, direct)
    assert calls == 2 and len(client.calls[0]["MetricDataQueries"]) == 500
    assert len(data) == 501


def test_fetch_follows_pages() -> None:
    client = FakeCloudWatch(pages=3)
    data, calls = t.fetch(client, [{"Id": "r0"}], END - 300, END, direct)
    assert calls == 3
    assert data["r0"]["values"] == [1.0, 2.0, 3.0]
    assert client.calls[1]["NextToken"] == "more"


def test_docs_metrics_md_lists_the_defaults() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[4] / "docs" / "metrics.md").read_text()
    for r in t.validate_rules(t.default_rules()):
        m = r["metric"]
        row = (f"| {r['name']} | {m['name']} | {m['statistic']} | {r['comparison']} | {r['threshold']:g} | "
               f"{m['period']} | {r['evaluation_periods']} | {r['datapoints_to_alarm']} | "
               f"{r['treat_missing_data']} | {r['level']} |")
        assert row in doc, row


def test_recovery_takes_n_minus_m_plus_two_periods_of_the_slowest_firing_rule() -> None:
    rules = t.validate_rules(t.default_rules())
    assert t.recovery_seconds(rules, ["emergency_latency"]) == 120
    assert t.recovery_seconds(rules, ["emergency_latency", "cost_overrun"]) == 600
    assert t.recovery_seconds(rules, []) == 0
    loose = [rule(evaluation_periods=5, datapoints_to_alarm=3)]
    assert t.recovery_seconds(loose, ["latency"]) == 240


# -- back-testing


def test_backtest_finds_each_firing_span_and_the_incidents() -> None:
    latency = rule(evaluation_periods=3)                      # level 1, > 10 for 3 of 3 minutes
    errors = rule(name="errors", level=2, evaluation_periods=2)
    start = END - 3600
    minutes = range(-70, 0)  # datapoints from 70 minutes before END
    latency_values = {m: (20 if -40 <= m < -30 else 1) for m in minutes}
    error_values = {m: (20 if -35 <= m < -28 else 1) for m in minutes}
    data = {
        "r0": {"timestamps": [END + 60 * m for m in minutes], "values": [latency_values[m] for m in minutes]},
        "r1": {"timestamps": [END + 60 * m for m in minutes], "values": [error_values[m] for m in minutes]},
    }
    found = t.backtest([latency, errors], data, start, END)
    [lat] = found["rules"]["latency"]
    # Breaching minutes -40..-31: a 3-of-3 judgement at boundary b looks at minutes b-3..b-1.
    assert (lat["from"], lat["to"], lat["level"]) == (t._iso(END - 37 * 60), t._iso(END - 30 * 60), 1)
    [err] = found["rules"]["errors"]
    assert (err["from"], err["to"]) == (t._iso(END - 33 * 60), t._iso(END - 28 * 60))
    [incident] = found["incidents"]
    assert incident["level"] == 2 and incident["rules"] == ["latency", "errors"]
    assert found["highest_level"] == 2
    assert found["summary"][0].endswith("1 incident(s) would have triggered a rollback.")


def test_backtest_of_a_quiet_period() -> None:
    data = {"r0": {"timestamps": [END - 60 * m for m in range(1, 60)], "values": [1.0] * 59}}
    found = t.backtest([rule()], data, END - 1800, END)
    assert found["incidents"] == [] and found["highest_level"] == 0
    assert found["summary"][-1] == "  Never fired: latency."
