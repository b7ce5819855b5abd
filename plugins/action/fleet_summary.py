# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""fleet_summary: the state of a fleet after one wave, from each environment's report (controller only)."""

from __future__ import annotations

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._fleet import check_order, merge, summary
from ansible_collections.matbakh.hybrid_routing.plugins.modules.fleet_summary import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction

# The register of the frame's report step (roles/hybrid_routing/tasks/finish.yml).
REPORT_REGISTER = "__hybrid_routing_report"
# The custom stats: a fleet's summary, and one job's part of a fleet of several jobs (hybrid_routing_fleet_id).
STAT = "hybrid_routing_fleet"
PART_STAT = "hybrid_routing_fleet_part_"


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params["current"]) - set(params["hosts"]))
        if unknown:
            return {"failed": True, "msg": f"current names environments that are not in hosts: {', '.join(unknown)}."}
        if params["order"] is not None:
            try:
                check_order(params["order"])
            except ValueError as exc:
                return {"failed": True, "msg": f"{exc}. Nothing was changed."}
            strangers = sorted(set(params["order"]) - set(params["hosts"]))
            if strangers:
                return {"failed": True, "msg": f"hybrid_routing_wave_order names {', '.join(strangers)}, which this "
                                               "run does not target (the inventory, hybrid_routing_hosts). Nothing "
                                               "was changed."}
        if params["parts"] is not None:
            fleet = merge(params["hosts"], params["parts"])
            stat = STAT
        else:
            hostvars = task_vars.get("hostvars") or {}
            reports: dict[str, Any] = {}
            for host in params["hosts"]:
                registered = hostvars[host].get(REPORT_REGISTER) if host in hostvars else None
                reports[host] = registered.get("report") if isinstance(registered, dict) else None
            try:
                fleet = summary(params["hosts"], params["waves"], reports, params["tolerance_percent"],
                                params["current"])
            except ValueError as exc:
                return {"failed": True, "msg": f"{exc}. Nothing was changed."}
            # One job of a fleet of several (AWX): its own key, since AWX hands the artifacts of a workflow's jobs to
            # the next node merged key by key (the last job's value of a shared key would hide the others').
            stat = f"{PART_STAT}{task_vars.get('awx_job_id') or 'local'}" if params["fleet_id"] else STAT
        fleet["fleet_id"] = params["fleet_id"] or None
        return {
            "changed": False,
            "fleet": fleet,
            "msg": fleet["message"],
            # What set_stats would publish: the fleet beside each environment's report (AWX's job artifact).
            "ansible_stats": {"data": {stat: fleet}, "per_host": False, "aggregate": False},
        }
