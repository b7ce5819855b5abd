# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: preload
type: aggregate
short_description: Load what this collection's tasks need once, in the playbook process
version_added: 0.3.0
description:
  - Ansible forks a worker process per host for every task. A worker running one of this collection's AWS modules
    in-process would import boto3 and load the service's model itself, about 0.25 s of CPU each time (6 s of a
    2-core machine for 50 environments).
  - When the playbook first reaches a task of such a module, this callback imports boto3 and warms one botocore
    session for the module's service in the playbook process, just before Ansible forks that task's workers, so every
    worker inherits them.
  - The same for requests, which the admin API and notification clients use, on the first task of the collection.
  - And for what each of the collection's tasks would otherwise read in every worker - the module's Python, its
    action's argument spec (parsed from the module's documentation), the modules an action runs in-process (the
    preflight's checks) and the roles' argument specs and defaults that rollback_start checks the inputs
    against - about a third of a level's CPU per environment before it was.
  - It changes no output and no result. Without it each worker loads what it needs itself, at that cost in CPU.
requirements:
  - Enable it in C(ansible.cfg) (C([defaults] callbacks_enabled = matbakh.hybrid_routing.preload)) or with
    E(ANSIBLE_CALLBACKS_ENABLED). The repository's C(ansible.cfg) enables it, and AWX reads the project's.
"""

import contextlib
import importlib
from typing import Any

from ansible.plugins.callback import CallbackBase

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import preload
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import (
    argument_spec_from_documentation,
    module_name,
)
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inputs import warm as warm_inputs

# The in-process modules that make AWS clients in every run of their task, and the services they use.
AWS_SERVICES = {
    "matbakh.hybrid_routing.auto_rollback_guard": ("dynamodb",),
    "matbakh.hybrid_routing.drill_info": ("cloudwatch",),
    "matbakh.hybrid_routing.rollback_metrics": ("cloudwatch",),
    "matbakh.hybrid_routing.triggers_backtest": ("cloudwatch",),
    "matbakh.hybrid_routing.triggers_info": ("cloudwatch",),
}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "matbakh.hybrid_routing.preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http_loaded = False
        self.warmed: set[str] = set()

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        # Sent in the playbook process before the task's workers are forked; preload() does each service once.
        if task.action.startswith("ansible."):  # ansible-core's own: resolving it costs about 3 ms a task
            return
        module = module_name(task.action, task.collections)
        if not self.http_loaded and module.startswith("matbakh.hybrid_routing."):
            self.http_loaded = True
            with contextlib.suppress(ImportError):  # the task reports it (module_utils/_http.py)
                importlib.import_module("requests")
        if module.startswith("matbakh.hybrid_routing."):
            self._warm(module)
        services = AWS_SERVICES.get(module)
        if services:
            preload(*services)

    def _warm(self, module: str) -> None:
        """Import the task's module and its action, and parse their specs, in this process; once per module."""
        if module in self.warmed:
            return
        self.warmed.add(module)
        name = module.rpartition(".")[2]
        with contextlib.suppress(ImportError):
            importlib.import_module(f"ansible_collections.matbakh.hybrid_routing.plugins.modules.{name}")
        try:
            action = importlib.import_module(f"ansible_collections.matbakh.hybrid_routing.plugins.action.{name}")
        except ImportError:
            return  # an in-process module: the shared action plugin has no spec of its own
        plugin = getattr(action, "ActionModule", None)
        if getattr(plugin, "DOCUMENTATION", None):
            argument_spec_from_documentation(plugin.DOCUMENTATION, plugin.SECRET_OPTIONS)
        for runs in getattr(plugin, "RUNS", ()):  # the modules an action runs in this process (its checks, say)
            self._warm(f"matbakh.hybrid_routing.{runs}")
        if name == "rollback_start":
            warm_inputs()
