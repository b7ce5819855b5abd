# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs the drill_info module inside the Ansible worker when the task runs on the controller."""

from __future__ import annotations

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import preload
from ansible_collections.matbakh.hybrid_routing.plugins.modules import drill_info
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import InProcessModuleAction

# Imported once, in the playbook process: the workers forked per host inherit boto3 and the service model.
preload('cloudwatch')


class ActionModule(InProcessModuleAction):
    module = drill_info
