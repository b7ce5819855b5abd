# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_authorize: who may run which level (controller only)."""

from __future__ import annotations

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_authorize import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._authorization import decide
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        return decide(params["level"], params["direction"], params["requester"], params["approver"],
                      params["people"], params["break_glass_reason"], params["automatic"], params["trigger"],
                      params["ceiling"])
