# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""validation_report: one verdict per check of playbooks/validate.yml (controller only)."""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.modules.validation_report import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._validation import (
    check,
    completeness,
    notify_check,
    people_check,
    records_check,
    report,
)

COLLECTION_ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _dict(value: Any) -> dict[str, Any]:
    """ansible-core 2.19 passes a skipped or missing result as None, 2.18 as an empty string."""
    return value if isinstance(value, dict) else {}


def _run_name(record: dict[str, Any]) -> str:
    return "roll-forward" if record.get("event") == "rollforward" else f"Level {record.get('level')}"


def _drill_runs(result: dict[str, Any], expected: int) -> dict[str, Any]:
    name = "drills run in staging"
    failed = check(name, result, "")
    if not failed["passed"]:
        return failed
    records = result.get("last_records") or []
    late = [f"{_run_name(r)}: {r.get('outcome')} in {r.get('elapsed_seconds')}s of {r.get('target_seconds')}s"
            for r in records if r.get("outcome") != "success" or not r.get("drill")]
    if len(records) < expected or late:
        return {"check": name, "passed": False,
                "reason": "; ".join(late) or f"{len(records)} of {expected} drill runs recorded"}
    return {"check": name, "passed": True, "reason": "; ".join(
        f"{_run_name(r)} {r.get('elapsed_seconds')}s of {float(r.get('target_seconds') or 0):.0f}s" for r in records)}


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        results = {name: _dict(value) for name, value in _dict(params["results"]).items()}
        start, service, release = results.get("start", {}), results.get("service", {}), results.get("release", {})
        drills = results.get("drills", {})
        routing = _dict(service.get("routing")).get("mode")
        checks = [
            check("run inputs (targets, lock TTL)", start, "valid"),
            check("token present and accepted, API reachable", service,
                  f"the API answered and accepted the token; {len(_dict(service.get('flags')))} flags, "
                  f"routing {routing}"),
            check("health endpoint reachable", service,
                  f"/health answered: {_dict(service.get('health')).get('status')}"),
            check("CloudWatch reachable", drills, "GetMetricData answered (the drill history)"),
            notify_check(_dict(start.get("run")).get("notify")),
            check("a previous release to go back to", release,
                  f"Level 3 would go back to {_dict(release.get('release')).get('current')}"),
            check("rollback lock free", results.get("lock", {}), "nobody else holds it"),
            people_check(params["people"]),
            records_check(results.get("records", {}), params["records"], params["production"]),
            *completeness(COLLECTION_ROOT, params["targets"]),
        ]
        if params["drills_run"]:
            checks.append(_drill_runs(results.get("drill_runs", {}), params["drills_run"]))
        return {"changed": False, "report": report(params["environment"], checks, drills.get("drills"))}
