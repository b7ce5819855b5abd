# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_report: judge a rollback run and publish its report (controller only)."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import CONNECTION_ARGSPEC
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._notify import who
from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_report import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._authorization import not_enforced
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction, mapping_or_none
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._report import (
    audit_record,
    build_report,
    follow_ups,
    timeline,
)


def _holds_lock(result: Any) -> bool:
    """Whether a step's result is a lock the run holds (taken, not failed, not skipped)."""
    return isinstance(result, dict) and bool(result) and not result.get("failed") and not result.get("skipped")


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION
    EXTRA_OPTIONS = CONNECTION_ARGSPEC  # the admin API's, to give the lock back (release_lock)
    RUNS = ("rollback_lock",)  # run in this process (the preload callback imports it before the workers fork)

    def _release_lock(self, params: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        """rollback_lock, state absent, for the run's operator: in this step, so that the report says whether the
        lock was released (one task less per environment than a step of its own)."""
        released = self.run_module("rollback_lock", {"holder": run.get("operator"), "state": "absent"},
                                   dict(params, rollback_id=run.get("id")))
        return {key: value for key, value in released.items() if key not in ("invocation", "diff")}

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        run = mapping_or_none(params["run"])
        unlock = None
        if params["release_lock"] and run is not None and _holds_lock((params["results"] or {}).get("lock")):
            unlock = self._release_lock(params, run)
            params["results"] = dict(params["results"], unlock=unlock)
        fallback = {
            "level": params["level"], "direction": params["direction"], "operator": params["operator"],
            "environment": params["environment"] or task_vars["inventory_hostname"],
            "dry_run": bool(self._play_context.check_mode),
        }
        report = build_report(run, params["results"], mapping_or_none(params["failure"]),
                              params["nothing_to_do"], fallback)
        report["trigger"] = params["trigger"]
        report["drill"] = params["drill"]
        report["reason"] = params["reason"] or None
        authorization = mapping_or_none(params["authorization"])
        if authorization is None and not params["people_named"] and params["trigger"] == "manual":
            authorization = not_enforced(report["level"], report["direction"], report["operator"], "")
        report["authorization"] = authorization
        report["approver"] = who(report)[1]
        plainly = ("break_glass", "refused")
        if authorization and (not authorization.get("enforced") or any(authorization.get(key) for key in plainly)):
            report["summary"] += f" {authorization['reason']}"  # said plainly wherever the summary goes
        report["audit"] = audit_record(report, params["results"])
        # The artifact AWX keeps links to the records (docs/audit.md): the trail, this run's record, its report.
        report["records"] = dict(params["records"] or {}, record_id=report["audit"]["record_id"])
        if report["rollback_id"] != "not started":
            report["timeline"] = timeline(params["run"], params["results"], report)
            report["follow_ups"] = follow_ups(time.time())
        host = task_vars["inventory_hostname"]
        warnings = (unlock or {}).pop("warnings", None)
        return {
            "changed": False,
            **({"unlock": unlock} if unlock is not None else {}),
            **({"warnings": warnings} if warnings else {}),
            "report": report,
            # What set_stats would publish: AWX keeps it as a job artifact, per environment.
            "ansible_stats": {"data": {params["stats_name"]: {host: report}}, "per_host": False, "aggregate": True},
        }
