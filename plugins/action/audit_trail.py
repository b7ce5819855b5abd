# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs the audit_trail module inside the Ansible worker when the task runs on the controller."""

from __future__ import annotations

from ansible_collections.matbakh.hybrid_routing.plugins.modules import audit_trail
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    module = audit_trail
