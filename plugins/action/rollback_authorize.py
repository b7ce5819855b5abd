# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_authorize: who may run which level (controller only)."""

from __future__ import annotations

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._audit import pii_findings
from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_authorize import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._authorization import (
    AuthorizationError,
    authorize,
)
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        found = pii_findings({"break_glass_reason": params["break_glass_reason"]}, ["break_glass_reason"])
        if found:
            return {"failed": True, "changed": False,
                    "msg": f"The break-glass reason holds what looks like {found[0][1]}: write it without personal "
                           "data. Nothing was read or written."}
        try:
            decision = authorize(params["people"], params["level"], params["direction"], params["requester"],
                                 params["approver"], params["break_glass_reason"], params["automatic"],
                                 params["trigger"], params["ceiling"])
        except AuthorizationError as exc:
            return {"failed": True, "changed": False, "msg": f"Not authorized: {exc} Nothing was read or written."}
        return {"changed": False, "authorization": decision}
