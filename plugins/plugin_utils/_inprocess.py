# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Run a module of this collection inside the Ansible worker when its task runs on the controller.

Every API call of a rollback is made from the controller (the inventories say ansible_connection: local). Shipping a
module to "localhost" starts a new Python, unpacks the module and imports it: about 0.7 s of CPU per task on a 2-core
machine, which made a Level 1 rollback cost eight times its API calls and a fleet of environments CPU-bound. Here the
module's own work(frame) runs in the worker Ansible has already forked, with the module's own argument spec, so a
task costs about 0.05 s. Results, check mode, diff, no_log, warnings and failures are the same either way; a task
that runs on another host (a non-local connection, or become) is executed as a classic module.

Every such module is routed to one action plugin by meta/runtime.yml (plugin_routing: modules: NAME: action_plugin),
which ansible-core's task executor reads; the modules whose action does more (rollback_start, rollback_notify, the
reports) have action plugins of their own built on the classes here.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
from types import ModuleType
from typing import Any

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import module_loader

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._background import compute, secret_values

COLLECTION = "matbakh.hybrid_routing"


def run_in_process(module: ModuleType, args: dict[str, Any], check_mode: bool, diff_mode: bool,
                   name: str) -> dict[str, Any]:
    """What module.main() would return for these arguments, computed in this process, its warnings in the result
    (as a module returns them: Ansible shows them with the task)."""
    result, warnings = compute(module, args, check_mode, diff_mode, name)
    if warnings:
        result["warnings"] = list(result.get("warnings") or []) + warnings
    return result


def module_name(action: str, collections: list[str] | None) -> str:
    """The FQCN of the module a task's action names (a short name through the play's collections, a redirect).

    Not the task's resolved_action: before the worker validates the task, that is the action plugin's name, which
    for every routed module is the shared one."""
    return module_loader.find_plugin_with_context(action, collection_list=collections).resolved_fqcn or action


def module_of(fqcn: str) -> ModuleType:
    """The Python module of this collection's module of that FQCN."""
    collection, _dot, name = fqcn.rpartition(".")
    if collection != COLLECTION:
        raise ValueError(f"{fqcn} is not a module of {COLLECTION}: only its own modules run in-process")
    return importlib.import_module(f"ansible_collections.{COLLECTION}.plugins.modules.{name}")


def mapping_or_none(value: Any) -> dict[str, Any] | None:
    """An option of type raw that holds a mapping or nothing: ansible-core 2.19 passes a templated null as None,
    2.18 as an empty string; both, and an empty mapping, mean none."""
    return value if isinstance(value, dict) and value else None


def apply_task_environment(action: ActionBase) -> None:
    """A module process would see the task's environment (`environment:`): so does the work done here (this worker
    exits after the task, so changing its environment touches nothing else)."""
    environment: dict[str, Any] = {}
    action._compute_environment_string(raw_environment_out=environment)
    os.environ.update({str(key): str(value) for key, value in environment.items()})


class InProcessModuleAction(ActionBase):
    """The action of every in-process module: the module is the task's (or `module`, for a subclass that is the
    action plugin of one module)."""

    module: ModuleType | None = None
    TRANSFERS_FILES = False

    def _on_controller(self) -> bool:
        return getattr(self._connection, "transport", None) == "local" and not self._play_context.become

    def _apply_task_environment(self) -> None:
        apply_task_environment(self)

    def _module(self) -> ModuleType:
        return self.module or module_of(module_name(self._task.action, self._task.collections))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp  # nothing is transferred
        if not self._on_controller():
            result.update(self._execute_module(module_args=self._task.args, task_vars=task_vars))
            return result
        self._apply_task_environment()
        result.update(run_in_process(self._module(), dict(self._task.args), bool(self._play_context.check_mode),
                                     bool(self._play_context.diff), self._task.action))
        return result


@functools.lru_cache(maxsize=64)
def argument_spec_from_documentation(documentation: str, secret: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The argument spec a docs-only module's DOCUMENTATION declares (one place for the options); `secret` names
    the options to keep out of every output (no_log is not a documentation key). Cached, and read in the playbook
    process before a task's workers fork (plugins/callback/preload.py): each worker would parse it again. Callers
    copy what they change (the spec is shared)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where PyYAML has it: about 10x faster
    return _spec(yaml.load(documentation, Loader=loader).get("options") or {}, secret)


def _spec(options: dict[str, Any], secret: frozenset[str]) -> dict[str, Any]:
    keys = ("type", "elements", "default", "choices", "required")
    spec = {}
    for name, option in options.items():
        spec[name] = dict({key: option[key] for key in keys if key in option}, no_log=name in secret)
        if option.get("suboptions"):
            spec[name]["options"] = _spec(option["suboptions"], frozenset())
    return spec


class ControllerAction(ActionBase):
    """An action that only exists on the controller (no module to run anywhere): its options are the
    DOCUMENTATION of the docs-only module of the same name; subclasses implement act()."""

    DOCUMENTATION: str
    SECRET_OPTIONS: frozenset[str] = frozenset()
    # Options a doc fragment declares (the DOCUMENTATION's own options are read from it).
    EXTRA_OPTIONS: dict[str, Any] = {}
    TRANSFERS_FILES = False
    _requires_connection = False

    def act(self, params: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def run_module(self, name: str, args: dict[str, Any], params: dict[str, Any], check_mode: bool | None = None,
                   diff_mode: bool = False) -> dict[str, Any]:
        """One of the collection's modules, run in this process with the shared options this task got
        (EXTRA_OPTIONS: the connection's, AWS's, from `params`) that the module takes, then `args`; in the task's
        check mode unless told."""
        module = module_of(f"{COLLECTION}.{name}")
        options = module.FRAME.argument_spec(module.ARGUMENT_SPEC)
        shared = {key: params[key] for key in self.EXTRA_OPTIONS if key in options and params.get(key) is not None}
        check = bool(self._play_context.check_mode) if check_mode is None else check_mode
        return run_in_process(module, dict(shared, **args), check, diff_mode, f"{COLLECTION}.{name}")

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        spec = dict(copy.deepcopy(self.EXTRA_OPTIONS),
                    **copy.deepcopy(argument_spec_from_documentation(self.DOCUMENTATION, self.SECRET_OPTIONS)))
        args = dict(self._task.args)
        validation = ArgumentSpecValidator(spec).validate(args)
        if validation.error_messages:
            # A message may quote a value: the connection options (module_defaults) carry the token and AWS keys.
            msg = remove_values("; ".join(validation.error_messages), secret_values(spec, args))
            result.update(failed=True, msg=f"Invalid arguments for {self._task.action}: {msg}")
            return result
        # The modules it runs in this process read the task's environment, as they would in a module process.
        apply_task_environment(self)
        result.update(self.act(validation.validated_parameters, task_vars or {}))
        return result
