# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_notify: the HTTP receivers in-process (or as a module on another host), then the e-mail through
community.general.mail, retried here, so one task tells everyone and reports on all of it."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._notify import summarize
from ansible_collections.matbakh.hybrid_routing.plugins.modules import rollback_notify
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import InProcessModuleAction

MAIL_MODULE = "community.general.mail"


def mail_error(result: dict[str, Any]) -> str:
    """Why community.general.mail did not send, in one line: its message (ansible-core 2.19 puts an escaped
    exception's text there too, e.g. "Module failed: [Errno 111] Connection refused"), else the last line of the
    traceback ansible-core 2.18 returns."""
    message = str(result.get("msg") or "").strip()
    if message and not message.startswith("MODULE FAILURE"):
        return message.removeprefix("Task failed: ").splitlines()[0][:300]
    trace = result.get("exception") or result.get("module_stderr")
    if isinstance(trace, str) and trace.strip():
        return trace.strip().splitlines()[-1][:300]
    return message or "community.general.mail failed without a message"


class ActionModule(InProcessModuleAction):
    module = rollback_notify
    # Backoff between e-mail attempts: 1 s, then 2 s, 4 s... (SMTP has no Retry-After).
    mail_backoff = 1.0

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        email = result.get("email")
        if result.get("failed") or not email or self._play_context.check_mode:
            return result
        delivery = next(item for item in result["deliveries"] if item["channel"] == "email")
        error = self._send_mail(email, task_vars or {})
        delivery.update(sent=error is None, error=error)
        result["failed_channels"] = [f"{item['channel']} {item['action']}" for item in result["deliveries"]
                                     if item["error"]]
        result["summary"] = summarize(result["deliveries"])
        return result

    def _send_mail(self, email: dict[str, Any], task_vars: dict[str, Any]) -> str | None:
        args = self._task.args
        mail_args = {
            "host": args.get("smtp_host"), "port": int(args.get("smtp_port") or 587),
            "sender": args.get("email_from") or "hybrid-routing-rollback@localhost",
            "to": email["to"], "cc": email["cc"], "subject": email["subject"], "body": email["body"],
            "secure": "starttls" if args.get("smtp_starttls", True) else "never",
            "timeout": int(float(args.get("timeout") or 10)),
        }
        if args.get("smtp_username"):
            # The module's own fallback: the task's environment is this worker's (see _inprocess.py).
            password = args.get("smtp_password") or os.environ.get("SMTP_PASSWORD") or ""
            mail_args.update(username=args["smtp_username"], password=password)
        attempts = 1 + max(0, int(args.get("retries", 3)))
        error = None
        for attempt in range(1, attempts + 1):
            answer = self._execute_module(module_name=MAIL_MODULE, module_args=mail_args, task_vars=task_vars)
            if not answer.get("failed") and not answer.get("result"):
                return None
            error = mail_error(answer)
            if attempt < attempts:
                time.sleep(self.mail_backoff * 2 ** (attempt - 1) + random.random() * 0.5)
        return f"{error} (tried {attempts} times)" if attempts > 1 else error
