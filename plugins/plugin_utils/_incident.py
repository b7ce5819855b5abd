# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The Markdown incident report of a run: rendered and written on the controller (actions incident_report and
rollback_record).

In-process, not ansible.builtin.template: a file module and a template module would start two Python processes per
run and environment, more than the rest of the report costs."""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _records
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import mapping_or_none

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


def run_log_so_far(host: str) -> str | None:
    """The run's log up to this task, from the run_log callback of the playbook process this worker forked from."""
    try:
        from ansible_collections.matbakh.hybrid_routing.plugins.callback import run_log
    except ImportError:
        return None
    return run_log.ACTIVE.text(host) if run_log.ACTIVE is not None else None


def run_log_kept() -> bool:
    """Whether the callback that keeps the run's log beside this report is enabled for this run."""
    from ansible import constants

    return RUN_LOG_CALLBACK in (constants.config.get_config_value("CALLBACKS_ENABLED") or [])


def write_report(params: dict[str, Any], check_mode: bool, host: str) -> dict[str, Any]:
    """Render the report of `params` (incident_report's options, with the store's connection) and write it, with
    the run's log beside it in the shared store; what incident_report returns."""
    path = params["path"]
    content = render(params.get("template") or DEFAULT_TEMPLATE, {
        "r": params["report"], "drill": params["drill"],
        "audit": mapping_or_none(params.get("audit")),
        "audit_path": params.get("audit_path") or "", "audit_error": params.get("audit_error") or "",
        "notify": mapping_or_none(params.get("notify")),
        "run_log": os.path.splitext(os.path.basename(path))[0] + ".log" if run_log_kept() else None,
    })
    try:
        unchanged = _records.read(path, params) == content.encode()
        if unchanged:
            return {"changed": False, "path": path}
        if check_mode:
            return {"changed": True, "path": path, "content": content}
        _records.write(path, params, content.encode(), content_type="text/markdown; charset=utf-8")
        log = run_log_so_far(host) if _records.in_s3(path) else None
        if log is not None and run_log_kept():
            _records.write(os.path.splitext(path)[0] + ".log", params, log.encode(),
                           content_type="text/plain; charset=utf-8")
    except _records.RecordsError as exc:
        return {"failed": True, "changed": False, "path": path, "msg": f"The incident report was not written: {exc}"}
    return {"changed": True, "path": path}
