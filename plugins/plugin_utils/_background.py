# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A module's work, computed here or in a process of its own that the task does not wait for.

compute() is what plugin_utils/_inprocess.py runs in the Ansible worker. spawn() runs the same work in a new Python
process and returns at once: the rollback's first page (rollback_notify, phase start) goes out while the level's
actions run, instead of before them. That process reads its arguments from its standard input (never the command
line, which every user of the host can read), writes its result to a file of its own (mode 0600) and exits; the end
of the run reads the file. This file imports little on purpose: the process starts in about 0.3 s of CPU instead of
the 1.1 s that importing ansible's action plugins costs.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from types import ModuleType
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import ModuleFailed, finish

# How long the background process may take to start before its budget begins (Python and its imports).
STARTUP_SECONDS = 1.0


def compute(module: ModuleType, args: dict[str, Any], check_mode: bool, diff_mode: bool,
            name: str) -> tuple[dict[str, Any], list[str]]:
    """What module.main() would return for these arguments, and its warnings; no_log values scrubbed from both."""
    spec = module.FRAME.argument_spec(module.ARGUMENT_SPEC)
    validation = ArgumentSpecValidator(spec).validate(args)
    # The raw arguments too: a value that failed validation may still be a secret the message would quote.
    secrets = secret_values(spec, validation.validated_parameters) | secret_values(spec, args)
    if validation.error_messages:
        problems = remove_values("; ".join(
            f"unsupported parameters {error}" if isinstance(error, UnsupportedError) else str(error)
            for error in validation.errors.errors
        ), secrets)
        return {"failed": True, "changed": False, "msg": f"Invalid arguments for {name}: {problems}"}, []
    params = validation.validated_parameters
    warnings: list[str] = []
    try:
        frame = module.FRAME(params, check_mode, diff_mode)
        result = finish(frame, module.work)
        warnings = frame.warnings
    except ModuleFailed as failed:
        result = dict(failed.result, failed=True, changed=False, msg=failed.msg)
    except Exception as exc:  # a bug must fail the task with a message, not kill the worker
        result = {"failed": True, "changed": False, "msg": f"{name} failed unexpectedly: {type(exc).__name__}: {exc}",
                  "exception": traceback.format_exc()}
    result["invocation"] = {"module_args": params}
    return remove_values(result, secrets), [remove_values(warning, secrets) for warning in warnings]


def secret_values(spec: dict[str, Any], params: Any) -> set[str]:
    """Every value of a no_log option, in sub-options too, as text: what remove_values() strips from a result.

    ansible-core's validator collects the same set but keeps it in a private attribute (ValidationResult's
    _no_log_values); the rule is short enough to state here from the public argument spec: the value of every option
    marked no_log (each string or number inside a list or mapping), after defaults and environment fallbacks."""
    found: set[str] = set()
    if not isinstance(params, dict):
        return found
    for name, option in spec.items():
        value = params.get(name)
        if value is None:
            continue
        if option.get("no_log"):
            found.update(_leaves(value))
        if option.get("options"):
            for item in value if isinstance(value, list) else [value]:
                found.update(secret_values(option["options"], item))
    return found


def _leaves(value: Any) -> list[str]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (str, int, float)):
        return [str(value)] if str(value) else []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple, set)) else []
    return [leaf for item in items for leaf in _leaves(item)]


def collection_root(module: ModuleType) -> str | None:
    """The directory holding ansible_collections/ that this module was loaded from (the path as Ansible found it:
    in a clone, through the .collections link), or None."""
    path = os.path.abspath(module.__file__ or "")
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return None
        if os.path.basename(path) == "ansible_collections":
            return parent
        path = parent


def spawn(module: ModuleType, args: dict[str, Any], name: str, budget: float,
          planned: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Start module's work in a process of its own; return where and by when its result will be, or None when no
    process could be started (the caller then does the work itself)."""
    root = collection_root(module)
    if root is None:
        return None
    descriptor, result_path = tempfile.mkstemp(prefix="matbakh-hybrid-routing-", suffix=".json")
    os.close(descriptor)
    os.unlink(result_path)  # the process creates it whole (written aside, then renamed): no half-read result
    request = {"module": module.__name__, "name": name, "args": args, "result_path": result_path,
               "planned": planned}
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    try:
        process = subprocess.Popen(  # this Python, this file, arguments on stdin
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=environment, cwd=tempfile.gettempdir(), start_new_session=True)
        if process.stdin is None:
            return None
        with process.stdin:
            process.stdin.write(json.dumps(request, default=str).encode())
    except (OSError, ValueError):
        return None
    deadline = round(time.time() + budget + STARTUP_SECONDS, 3)
    return {"result_path": result_path, "pid": process.pid, "deadline": deadline}


def write_result(path: str, result: dict[str, Any]) -> None:
    temporary = f"{path}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(temporary, path)


def main() -> None:
    request = json.load(sys.stdin)
    try:
        module = importlib.import_module(request["module"])
        result, _warnings = compute(module, request["args"], False, False, request["name"])
    except Exception as exc:  # the end of the run must still learn that nothing was sent
        reason = f"the background sender failed: {type(exc).__name__}"
        result = {"deliveries": [dict(item, sent=False, error=item.get("error") or reason)
                                 for item in request.get("planned") or []]}
    with contextlib.suppress(OSError):
        write_result(request["result_path"], result)
    # Threads of a receiver that never answered are daemons: exit now, do not wait for their sockets.
    os._exit(0)


if __name__ == "__main__":
    main()
