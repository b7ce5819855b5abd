# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_record: the audit record, the metrics and the incident report of a run, then its outcome (controller
only).

One step instead of four: each task costs a forked worker and its templating per environment, which is most of a
fleet's CPU (docs/performance.md). The records are the modules' own work (audit_trail, rollback_metrics) and the
incident report's, run in this process; the order is theirs: the report names the audit record."""

from __future__ import annotations

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWS_ARGSPEC
from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_record import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._incident import write_report
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction, mapping_or_none

NO_NOTIFICATIONS = {"deliveries": [], "failed_channels": [], "summary": "Notifications: none configured."}


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION
    EXTRA_OPTIONS = AWS_ARGSPEC  # the shared store's and CloudWatch's connection (matbakh.hybrid_routing.aws)
    # The modules it runs in this process (the preload callback imports them before the workers fork).
    RUNS = ("audit_trail", "rollback_metrics")

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        report = params["report"]
        notified = mapping_or_none(params["notified"]) or NO_NOTIFICATIONS
        not_recorded: list[str] = []
        warnings: list[str] = []

        audit = self.run_module("audit_trail", {
            "path": params["audit_path"],
            "record": dict(report.get("audit") or {}, notifications=notified.get("deliveries") or []),
            # The summary and failure are generated text: personal data in them is redacted, the record is kept.
            "on_personal_data": "redact",
            **({"cloudwatch_log_group": params["audit_log_group"]} if params["audit_log_group"] else {}),
        }, params)
        warnings += audit.get("warnings") or []
        if audit.get("failed"):
            not_recorded.append(f"The audit record was not written: {audit.get('msg')}")

        published = None
        # Where no AWS region is known there is no CloudWatch to publish to: nothing to try (and no warning).
        if params["metrics"] and params.get("region"):
            metrics = self.run_module("rollback_metrics", {"report": report, "drill": params["drill"]}, params)
            warnings += metrics.get("warnings") or []  # a failure to publish is a warning of the module's own
            published = bool(metrics.get("published"))
            if metrics.get("failed"):
                warnings.append(f"The rollback metrics were not published: {metrics.get('msg')}")

        if params["report_path"]:
            written = write_report(dict(params, path=params["report_path"], audit=audit.get("record"),
                                        audit_path=params["audit_path"],
                                        audit_error=audit.get("msg", "") if audit.get("failed") else "",
                                        notify=notified), bool(self._play_context.check_mode),
                                   task_vars.get("inventory_hostname", ""))
            if written.get("failed"):
                not_recorded.append(str(written.get("msg")))

        unlock = mapping_or_none(params["unlock"]) or {}
        lock_kept = bool(unlock.get("failed"))
        message = " ".join([params["message"] or str(report.get("summary") or ""),
                            *(line if line.endswith(".") else f"{line}." for line in not_recorded)])
        result: dict[str, Any] = {
            "changed": False,  # bookkeeping: "changed" counts what the run did to the service
            "msg": message,
            "audit": {key: audit["record"].get(key) for key in ("seq", "record_id", "hash")}
            if isinstance(audit.get("record"), dict) and not audit.get("failed") else None,
            "report_path": params["report_path"] or None,
            # Shown at every verbosity, as ansible.builtin.assert shows its message: the run's last line.
            "_ansible_verbose_always": True,
        }
        # Only what happened: the last lines of a run are read under stress.
        if published is not None:
            result["metrics_published"] = published
        if not_recorded:
            result["not_recorded"] = not_recorded
        if warnings:
            result["warnings"] = warnings
        if report.get("outcome") == "failed" or lock_kept or not_recorded:
            result["failed"] = True
        return result
