# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action plugin of every module this collection runs inside the Ansible worker (plugin_utils/_inprocess.py).

meta/runtime.yml routes each of those modules here (plugin_routing: modules: NAME: action_plugin), and the module
run is the task's own. The plugin carries the name of feature_flags, the first of them, because ansible-test wants a
module of the same name for every action plugin (sanity test action-plugin-docs).
"""

from __future__ import annotations

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    """Runs the task's module in-process on the controller, or as a classic module on any other host."""
