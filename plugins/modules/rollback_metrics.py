#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_metrics
short_description: Publish a rollback run's own metrics to CloudWatch
version_added: 0.3.0
description:
  - Publishes, from the report M(matbakh.hybrid_routing.rollback_report) computed, the run's duration, each
    phase's duration, its outcome (succeeded, failed, target missed), the time to recovery, whether the health
    degraded during the run and whether the recovery is incomplete, with the dimensions C(Environment),
    C(Level) and C(Drill) (the metric list is in the collection's C(docs/metrics.md)). One C(PutMetricData) call.
  - C(playbooks/alarms.yml) sets the alarms on these metrics.
  - A dry run (the report's outcome V(dry_run)) publishes nothing. In check mode nothing is published; the result
    shows what would be.
  - Metrics must never fail a rollback, so by default a failure to publish is reported (O(fail_on_error)).
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.aws_group
attributes:
  check_mode:
    support: full
    details: Builds the datapoints and returns them without publishing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A run's metrics are an event, not managed state; the module reports C(changed=false) and says in
        RV(published) whether it published.
options:
  report:
    description: The report of the run (the C(report) M(matbakh.hybrid_routing.rollback_report) returns).
    type: dict
    required: true
  drill:
    description: The run is a drill (dimension C(Drill=true)).
    type: bool
    default: false
  namespace:
    description: CloudWatch namespace of the rollback metrics.
    type: str
    default: Matbakh/HybridRouting/Rollbacks
  fail_on_error:
    description: Fail the task when the metrics cannot be published (or no AWS region is set) instead of reporting it.
    type: bool
    default: false
seealso:
  - module: matbakh.hybrid_routing.rollback_report
  - module: matbakh.hybrid_routing.triggers_info
"""

EXAMPLES = r"""
---
- name: Publish the run's metrics
  matbakh.hybrid_routing.rollback_metrics:
    report: "{{ hybrid_routing_result }}"
    drill: "{{ hybrid_routing_drill }}"
    region: eu-central-1
"""

RETURN = r"""
published:
  description: Whether the metrics were published (false in check mode, for a dry run, or when publishing failed).
  returned: always
  type: bool
  sample: true
metrics:
  description: The datapoints, as C(name), C(value), C(unit) and C(dimensions).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "RollbackDuration", "value": 7.3, "unit": "Seconds",
            "dimensions": {"Environment": "prod", "Level": "1", "Drill": "false"}}]
error:
  description: Why the metrics were not published, when they were not.
  returned: when publishing failed or no region is set
  type: str
  sample: "region is not set: pass the option region (alias aws_region) or export AWS_REGION"
finished_at:
  description: When the module finished, in epoch seconds.
  returned: always
  type: float
  sample: 1798012345.123
"""

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSAccess, AWSError, AWSFrame, call
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module


def datapoints(report: dict[str, Any], drill: bool) -> list[dict[str, Any]]:
    """The run's metrics from its report (docs/metrics.md, "Rollback metrics and alarms")."""
    level = "forward" if report.get("direction") == "forward" else str(report.get("level"))
    dimensions = {"Environment": str(report.get("environment")), "Level": level, "Drill": str(drill).lower()}
    outcome = report.get("outcome")
    recovery = report.get("recovery") or {}
    found = [
        ("RollbackDuration", float(report.get("elapsed_seconds") or 0), "Seconds", {}),
        ("RollbackSucceeded", float(outcome in ("success", "target_missed")), "Count", {}),
        ("RollbackFailed", float(outcome == "failed"), "Count", {}),
        ("RollbackTargetMissed", float(outcome == "target_missed"), "Count", {}),
        ("HealthDegradedDuringRollback", float(bool(recovery.get("health_degraded"))), "Count", {}),
        ("RecoveryIncomplete", float(not recovery.get("verified")), "Count", {}),
    ]
    if recovery.get("seconds") is not None:
        found.append(("TimeToRecovery", float(recovery["seconds"]), "Seconds", {}))
    for phase, seconds in (report.get("phases") or {}).items():
        found.append(("PhaseDuration", float(seconds), "Seconds", {"Phase": phase}))
    return [{"name": name, "value": round(value, 3), "unit": unit, "dimensions": dict(dimensions, **extra)}
            for name, value, unit, extra in found]


ARGUMENT_SPEC: dict[str, Any] = dict(
    report=dict(type="dict", required=True),
    drill=dict(type="bool", default=False),
    namespace=dict(type="str", default="Matbakh/HybridRouting/Rollbacks"),
    fail_on_error=dict(type="bool", default=False),
)
FRAME = AWSFrame


def work(frame: AWSFrame) -> dict[str, Any]:
    params = frame.params
    report = params["report"]
    if report.get("outcome") == "dry_run" or report.get("rollback_id") == "not started":
        return {"published": False, "metrics": []}
    metrics = datapoints(report, params["drill"])
    if frame.check_mode:
        return {"published": False, "metrics": metrics}
    try:
        client = AWSAccess(params, "cloudwatch").client
        call("Publishing the rollback metrics (PutMetricData)", client.put_metric_data, Namespace=params["namespace"],
             MetricData=[{"MetricName": m["name"], "Value": m["value"], "Unit": m["unit"],
                          "Dimensions": [{"Name": k, "Value": v} for k, v in m["dimensions"].items()]}
                         for m in metrics])
    except AWSError as exc:
        if params["fail_on_error"]:
            frame.fail(str(exc), published=False, metrics=metrics)
        frame.warn(f"The rollback metrics were not published: {exc}")
        return {"published": False, "metrics": metrics, "error": str(exc)}
    return {"published": True, "metrics": metrics}


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
