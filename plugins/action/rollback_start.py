# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_start: name a rollback run, decide who may run it, check it, take its lock and snapshot (controller
only)."""

from __future__ import annotations

import getpass
import os
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import CONNECTION_ARGSPEC
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWS_ARGSPEC
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._awx import recorded_approval
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._notify import configured_channels
from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_start import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._authorization import decide
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import (
    ControllerAction,
)
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inputs import refuse_unsettable
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._preflight import CHECKS, prepare
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._report import RunInputError, plan, start_run


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION
    SECRET_OPTIONS = frozenset({"receivers"})
    # The connection of the modules the preflight runs (module_defaults of the groups admin_api and aws).
    EXTRA_OPTIONS = dict(CONNECTION_ARGSPEC, **AWS_ARGSPEC)
    # The modules the preflight runs in this process (the preload callback imports them before the workers fork).
    RUNS = tuple(sorted(set(CHECKS.values())))

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        # A name the frame sets itself, given by the user, would reach the actions unchecked (extra vars outrank
        # include vars): refused first, before anything is read or written.
        refused = refuse_unsettable(self._task, task_vars)
        if refused:
            return refused
        operator = params["operator"] or task_vars.get("awx_user_name") or getpass.getuser()
        try:
            run = start_run(
                params["level"], params["direction"], params["environment"] or task_vars["inventory_hostname"],
                params["targets"], str(operator), params["lock_ttl_seconds"], bool(self._play_context.check_mode),
            )
        except RunInputError as exc:
            return {"failed": True, "changed": False, "msg": f"{exc} Nothing was read or written."}
        # Which notification channels are configured, by the rule rollback_notify applies: none costs no step.
        run["notify"] = configured_channels(params["receivers"] or {}, os.environ)
        # What the frame runs (its YAML follows this; the rule is stated here only).
        run["plan"] = plan(run["level"], run["direction"], params["release_strategy"], run["notify"],
                           params["verify_timeout_seconds"], run["deadline"])
        # Who may run this level, decided here rather than in a task of its own (one task less per run). Nobody
        # named and no trigger: nothing to check (the report says so).
        wanted = params["authorization"] or {}
        # ansible-core 2.18 renders a templated boolean inside a mapping as a string ("False").
        automatic = boolean(wanted.get("automatic") or False, strict=False)
        if not (wanted.get("people") or automatic):
            return self._preflight(params, {"changed": False, "run": run})
        # The approver AWX recorded for the workflow that launched this job, where it can be read; else the
        # survey's (a claim, and the record says so).
        approval = None if automatic else recorded_approval(task_vars, os.environ, str(wanted.get("approver") or ""))
        decision = decide(run["level"], run["direction"], str(wanted.get("requester") or operator),
                          str(wanted.get("approver") or ""), wanted.get("people") or {},
                          str(wanted.get("break_glass_reason") or ""), automatic,
                          str(wanted.get("trigger") or ""), int(wanted.get("ceiling") or 0), approval)
        # A refused run still has its id: the report and the audit record name it.
        if decision.get("failed"):
            return dict(decision, run=run)
        return self._preflight(params, dict(decision, run=run))

    def _preflight(self, params: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """The run's checks (rollback_start's plan), the acting modules in check mode, then the lock and the
        snapshot, each module with the connection this task got and the run's id as its correlation id: the first
        refusal fails this step, before any write."""
        if params["preflight"] is None:
            return result
        run = result["run"]
        shared = dict(params, rollback_id=run["id"])  # the run's id is every request's correlation id
        warnings: list[str] = []
        check_mode, diff_mode = bool(self._play_context.check_mode), bool(self._play_context.diff)

        def runner(name: str, args: dict[str, Any], check_only: bool) -> dict[str, Any]:
            done = self.run_module(name, args, shared, check_only or check_mode, diff_mode and not check_only)
            warnings.extend(done.get("warnings") or [])
            return done

        inputs = dict(params["preflight"], lock_ttl=params["lock_ttl_seconds"])
        outcome = prepare(run, inputs, runner)
        failed, msg = outcome.pop("failed", False), outcome.pop("msg", None)
        result["preflight"] = {key: outcome[key] for key in ("checks", "nothing_to_do", "finished_at", "busy")
                               if key in outcome}
        result["lock"], result["snapshot"] = outcome["lock"], outcome["snapshot"]
        # What the run did to the service: the snapshot it took (the lock is bookkeeping, never a change).
        snapshot = outcome["snapshot"] or {}
        result["changed"] = bool(snapshot.get("changed"))
        if snapshot.get("diff"):
            result["diff"] = snapshot["diff"]
        if warnings:
            result["warnings"] = warnings
        if failed:
            result.update(failed=True, msg=msg)
        return result
