# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_decision: the next step of an automatic rollback and its impact report (controller only)."""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._escalation import RECOVERED, decide, impact
from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_decision import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inputs import refuse_unsettable

# What the automatic rollback sets for each rung it runs (roles/hybrid_routing/tasks/auto_rung.yml): the decision's,
# never the user's (-e hybrid_routing_level=3 would pass the ceiling).
RUNG_INPUTS = frozenset({"hybrid_routing_level", "hybrid_routing_direction", "hybrid_routing_operator",
                         "hybrid_routing_trigger"})


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        refused = refuse_unsettable(self._task, task_vars, RUNG_INPUTS)
        if refused:
            return refused
        before = params["before"]
        latest = params["latest"] or before
        ran = list(params["ran"])
        decision = decide(latest, params["ceiling"], ran, dry_run=bool(self._play_context.check_mode))
        recovered_at = time.time() if decision["action"] == RECOVERED else None
        report = impact(before, latest, decision, ran, recovered_at)
        host = task_vars["inventory_hostname"]
        return {
            "changed": False,
            "decision": decision,
            "report": report,
            "ansible_stats": {"data": {params["stats_name"]: {host: report}}, "per_host": False, "aggregate": True},
        }
