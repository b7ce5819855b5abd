# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""incident_report: render and write the Markdown incident report of a run (controller only).

In-process, not ansible.builtin.template: a file module and a template module would start two Python processes per
run and environment, more than the rest of the report costs."""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.modules.incident_report import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction

RUN_LOG_CALLBACK = "matbakh.hybrid_routing.run_log"
DEFAULT_TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "hybrid_routing", "templates",
                                "incident_report.md.j2")


def render(template_path: str, variables: dict[str, Any]) -> str:
    from jinja2.sandbox import SandboxedEnvironment

    with open(template_path, encoding="utf-8") as handle:
        source = handle.read()
    environment = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                                       autoescape=False)
    return environment.from_string(source).render(**variables)


def run_log_kept() -> bool:
    """Whether the callback that keeps the run's log beside this report is enabled for this run."""
    from ansible import constants

    return RUN_LOG_CALLBACK in (constants.config.get_config_value("CALLBACKS_ENABLED") or [])


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        path = params["path"]
        content = render(params["template"] or DEFAULT_TEMPLATE, {
            "r": params["report"], "drill": params["drill"],
            "audit": params["audit"] if isinstance(params["audit"], dict) and params["audit"] else None,
            "audit_path": params["audit_path"], "audit_error": params["audit_error"],
            "notify": params["notify"] if isinstance(params["notify"], dict) and params["notify"] else None,
            "run_log": os.path.splitext(os.path.basename(path))[0] + ".log" if run_log_kept() else None,
        })
        try:
            with open(path, encoding="utf-8") as handle:
                unchanged = handle.read() == content
        except OSError:
            unchanged = False
        if unchanged:
            return {"changed": False, "path": path}
        if self._play_context.check_mode:
            return {"changed": True, "path": path, "content": content}
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            return {"failed": True, "changed": False, "path": path,
                    "msg": f"Cannot write the incident report {path}: {exc.strerror or exc}"}
        return {"changed": True, "path": path}
