"""Test-only callback: append one JSON line per task result to $HR_TASK_RECORD."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_record
type: aggregate
short_description: record task results as JSON lines (tests only)
description: >-
  Writes action, name, host, status, changed (and a module's wait summary) of every task result
  to the file in HR_TASK_RECORD.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_record"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status: str) -> None:
        path = os.environ.get("HR_TASK_RECORD")
        if not path:
            return
        entry = {
            "action": result._task.action,
            "name": result._task.get_name(),
            "host": result._host.get_name(),
            "status": status,
            "changed": bool(result._result.get("changed")),
        }
        if isinstance(result._result.get("wait"), dict):  # what a module's polls saw (issue 10)
            entry["wait"] = result._result["wait"]
        # What the trigger, metrics and auto-rollback tests check (issue 7); the rollback's report (the custom stat,
        # which the console no longer prints).
        # The preflight's findings (rollback_start) and what the run's last step recorded (rollback_record).
        for key in ("report", "evaluation", "calls", "published", "metrics", "decision", "guard", "msg", "fired",
                    "error", "preflight", "snapshot", "lock", "metrics_published", "not_recorded", "audit",
                    "report_path"):
            if key in result._result:
                entry[key] = result._result[key]
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
