# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What a module's logic sees, whichever way it runs.

Every module of the collection is written as `work(frame) -> result`: the frame holds the validated parameters,
check and diff mode, collects warnings and turns a failure into one clear message. The same work runs two ways:

- as a classic module (`run_as_module`, called from the module's main()), when the task runs on another host;
- inside the Ansible worker on the controller (plugin_utils/_inprocess.py), when the task runs there, which is how
  every inventory of this collection runs it (ansible_connection: local): no new Python process per task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule


class ModuleFailed(Exception):
    """The work failed; msg is safe to show and result carries what the module returns alongside it."""

    def __init__(self, msg: str, result: dict[str, Any] | None = None):
        super().__init__(msg)
        self.msg = msg
        self.result = result or {}


class Frame:
    """Parameters, modes, warnings and failure for a module's work."""

    def __init__(self, params: dict[str, Any], check_mode: bool = False, diff_mode: bool = False):
        self.params = params
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.warnings: list[str] = []

    @classmethod
    def argument_spec(cls, module_spec: dict[str, Any]) -> dict[str, Any]:
        """The module's full argument spec: frames that bring options (connection, AWS) add theirs."""
        return dict(module_spec)

    def fail(self, msg: str, **result: Any) -> NoReturn:
        raise ModuleFailed(msg, result)

    def check_wait(self) -> None:
        """The options wait_timeout and interval of a module that polls: checked in check mode too, so that the
        preflight (the module in check mode) refuses what the real run would."""
        timeout, interval = self.params["wait_timeout"], self.params["interval"]
        if timeout < 0 or interval <= 0:
            self.fail(f"wait_timeout must be >= 0 and interval > 0 (got {timeout:g} and {interval:g}); nothing was "
                      "changed.")

    def warn(self, msg: str) -> None:
        """Never pass a secret here: warnings are not censored by no_log (ansible-core 2.19)."""
        self.warnings.append(msg)

    def failure(self, exc: Exception) -> ModuleFailed | None:
        """The failure an expected error of this frame's clients stands for; None lets it propagate."""
        return None


Work = Callable[[Any], dict[str, Any]]


def finish(frame: Frame, work: Work) -> dict[str, Any]:
    """Run work(frame); an expected error becomes a failed result with its message."""
    try:
        try:
            result = work(frame)
        except ModuleFailed:
            raise
        except Exception as exc:
            failure = frame.failure(exc)
            if failure is None:
                raise
            raise failure from None
    except ModuleFailed as failed:
        result = dict(failed.result, failed=True, msg=failed.msg)
    result.setdefault("changed", False)
    # When the work ended, by the clock of the host that ran it (the controller, for this collection's
    # inventories): the rollback report times its phases from these, so the frame needs no timing tasks.
    result["finished_at"] = round(time.time(), 3)
    return result


def run_as_module(module_spec: dict[str, Any], frame_class: type[Frame], work: Work) -> NoReturn:
    """main() of every module: build the AnsibleModule, run the work, exit or fail."""
    module = AnsibleModule(argument_spec=frame_class.argument_spec(module_spec), supports_check_mode=True)
    try:
        frame = frame_class(module.params, module.check_mode, module._diff)
    except ModuleFailed as failed:
        module.fail_json(msg=failed.msg, **failed.result)
    result = finish(frame, work)
    for warning in frame.warnings:
        module.warn(warning)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
