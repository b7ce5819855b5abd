# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: run_log
type: notification
short_description: Keep the full log of a rollback run beside its incident report
version_added: 0.3.0
description:
  - Records every play, task and result of the playbook run (timestamped, one line each, the result as JSON) and,
    when the run ends, writes each host's lines to C(<report>.log) beside every incident report
    the frame (M(matbakh.hybrid_routing.rollback_record)) or M(matbakh.hybrid_routing.incident_report) wrote for
    that host (mode 0600).
  - Module arguments (C(invocation)) are never logged, and results of C(no_log) tasks are already censored by
    Ansible before a callback sees them, so credentials do not reach the log.
  - A run killed before it ends writes no log; its report says where the log would be.
  - A report in the shared store (C(s3://)) gets its log from the step that writes the report, as it stands then
    (every task before that step) - this callback runs in the playbook process, which holds no AWS credentials of
    the run's; the task that writes the report does. The recap is AWX's job output (or the console).
  - A dry run (check mode) writes no report, and so no log either.
requirements:
  - Enable it in C(ansible.cfg) (C([defaults] callbacks_enabled = matbakh.hybrid_routing.run_log)) or with
    E(ANSIBLE_CALLBACKS_ENABLED); the repository's C(ansible.cfg) does, and AWX reads the project's.
"""

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

# The steps that write an incident report, and the key of their result that says where: the frame's last step
# (rollback_record, also when it fails: a failed run has its report too) and the module of its own.
REPORT_ACTIONS = {"matbakh.hybrid_routing.rollback_record": "report_path", "rollback_record": "report_path",
                  "matbakh.hybrid_routing.incident_report": "path", "incident_report": "path"}
# The instance of this playbook run: a task's worker (a fork of the playbook process) reads the log so far from it.
ACTIVE: CallbackModule | None = None
# Result keys that are bulky, internal, or carry the module's arguments.
DROPPED = frozenset({"invocation", "diff", "ansible_facts", "exception", "module_stdout", "module_stderr"})


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _clean(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key not in DROPPED and not key.startswith("_ansible")}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "matbakh.hybrid_routing.run_log"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display: Any = None, options: Any = None) -> None:
        super().__init__(display, options)
        self.lines: list[tuple[str | None, str]] = []  # (host or None for every host, line)
        self.reports: dict[str, list[str]] = {}
        global ACTIVE
        ACTIVE = self

    def text(self, host: str) -> str:
        """The host's log so far: every play, and every task of that host."""
        return "\n".join(line for owner, line in self.lines if owner in (None, host)) + "\n"

    def _line(self, host: str | None, text: str) -> None:
        self.lines.append((host, f"{_stamp()} {text}"))

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._line(None, f"PLAYBOOK {getattr(playbook, '_file_name', '')}")

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._line(None, f"PLAY {play.get_name().strip()}")

    def _result(self, result: Any, status: str) -> None:
        host = result._host.get_name()
        task = result._task
        body = _clean(result._result)
        self._line(host, f"{status.upper()} {host} | {task.get_name()} [{task.action}] "
                         f"{json.dumps(body, default=str, sort_keys=True)}")
        path = result._result.get(REPORT_ACTIONS.get(task.action, ""))
        if status in ("ok", "failed") and isinstance(path, str):
            self.reports.setdefault(host, []).append(path)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._line(result._host.get_name(), f"SKIPPED {result._host.get_name()} | {result._task.get_name()}")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result(result, "unreachable")

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._result(result, "item ok")

    def v2_runner_item_on_failed(self, result: Any) -> None:
        self._result(result, "item failed")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        for host, paths in self.reports.items():
            summary = stats.summarize(host)
            text = self.text(host)
            text += f"{_stamp()} RECAP {host} {json.dumps(summary, sort_keys=True)}\n"
            for path in dict.fromkeys(paths):
                if not os.path.exists(path):  # a dry run's report (check mode writes none): no report, no log
                    continue
                log_path = os.path.splitext(path)[0] + ".log"
                try:
                    fd = os.open(log_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        handle.write(text)
                    os.replace(log_path + ".tmp", log_path)
                except OSError as exc:
                    self._display.warning(f"The run log {log_path} could not be written: {exc.strerror or exc}")
