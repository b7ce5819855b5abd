# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""rollback_notify in-process (or as a module on another host). The start phase of a Level 3 is sent from a process
of its own: the task returns the plan at once, so no receiver stands before or between the level's actions, and the
finish phase of the same run reads what that process sent (plugin_utils/_background.py)."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.matbakh.hybrid_routing.plugins.modules import rollback_notify
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._background import spawn
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import (
    InProcessModuleAction,
    run_in_process,
)


class ActionModule(InProcessModuleAction):
    module = rollback_notify

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        in_background = self._task.args.get("phase") == "start" and not self._play_context.check_mode
        if not (in_background and self._on_controller()):
            return super().run(tmp, task_vars)
        result = ActionBase.run(self, tmp, task_vars)
        self._apply_task_environment()
        args = dict(self._task.args)
        # The plan, as check mode makes it (it validates the arguments and sends nothing), then the sending itself
        # in the background.
        plan = run_in_process(self.module, args, True, False, self._task.action)
        if plan.get("failed") or not plan.get("deliveries"):
            result.update(plan)
            return result
        budget = float(args.get("budget") or rollback_notify.ARGUMENT_SPEC["budget"]["default"])
        background = spawn(self.module, args, self._task.action, budget, plan["deliveries"])
        if background is None:  # no process could be started: send here, within the same budget
            result.update(run_in_process(self.module, args, False, False, self._task.action))
            return result
        sending = ", ".join(f"{item['channel']} {item['action']}" for item in plan["deliveries"])
        plan.update(background=background, summary=f"Notifications: sending in the background ({sending}).")
        result.update(plan)
        return result
