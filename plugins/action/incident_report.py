# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""incident_report: render and write the Markdown incident report of a run (controller only)."""

from __future__ import annotations

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWS_ARGSPEC
from ansible_collections.matbakh.hybrid_routing.plugins.modules.incident_report import DOCUMENTATION
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._incident import write_report
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import ControllerAction


class ActionModule(ControllerAction):
    DOCUMENTATION = DOCUMENTATION
    EXTRA_OPTIONS = AWS_ARGSPEC  # the shared store's connection (matbakh.hybrid_routing.aws), used for s3:// only

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        return write_report(params, bool(self._play_context.check_mode), task_vars.get("inventory_hostname", ""))
