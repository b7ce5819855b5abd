# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Which names a user may set for a run of the frame, and a clear refusal for the others.

The frame (role hybrid_routing) validates its inputs under their inventory names (hybrid_routing_*) and hands them
to the action roles under the roles' own names, through include_role vars. Ansible ranks extra vars above include
vars and role vars, so `-e release_revert_strategy=helm` would reach the role unchecked, past the preflight, and the
same goes for every name the frame or a playbook sets itself (`-e hybrid_routing_level=3` on the Level 2 playbook,
or on auto_rollback past its ceiling). Such a name is refused here, before anything is read or written:

- an input or result of an action role (their argument specs, defaults and vars), given with -e, or set in the
  inventory to something other than the role's default (the frame's value would win without a word);
- a name this task's own role or an include around it sets (the playbook's `hybrid_routing_level: 2`, a rung's
  level and trigger), given with -e;
- a private name of any role of the collection (`__<role>_...`), given with -e.

Role defaults that an earlier include (public: true) exposed to the play are not the user's: they equal the default.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser where PyYAML has it (its wheels do): about 10x faster than the pure-Python one, and the same
# documents for these plain files.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ROLES = Path(__file__).resolve().parents[2] / "roles"
FRAME = "hybrid_routing"


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)


def warm() -> None:
    """Read the roles once in the playbook process (plugins/callback/preload.py): Ansible forks a worker per host
    for each task, and every worker inherits what is read here instead of parsing the roles' YAML again."""
    action_role_names()
    frame_feeds()


@functools.lru_cache(maxsize=1)
def action_role_names() -> dict[str, dict[str, Any]]:
    """Every name an action role reads or publishes: name -> {role, default (if any), input (bool)}."""
    names: dict[str, dict[str, Any]] = {}
    for role in sorted(path.name for path in ROLES.iterdir() if (path / "meta").is_dir()):
        if role == FRAME:
            continue
        specs = _load(ROLES / role / "meta" / "argument_specs.yml")
        for entry in (specs.get("argument_specs") or {}).values():
            for name, option in (entry.get("options") or {}).items():
                names[name] = {"role": role, "input": True}
                if "default" in option:
                    names[name]["default"] = option["default"]
        for part in ("vars", "defaults"):
            path = ROLES / role / part / "main.yml"
            values = (_load(path) or {}) if path.is_file() else {}
            for name, value in values.items():
                entry = names.setdefault(name, {"role": role, "input": part == "defaults"})
                if part == "defaults":
                    entry["default"] = value  # what an include with public: true exposes to the play
    return names


@functools.lru_cache(maxsize=1)
def frame_feeds() -> dict[str, str]:
    """Which inventory name the frame feeds each action role input from: the include_role vars of its task files
    (an input fed from exactly one of the frame's options)."""
    specs = _load(ROLES / FRAME / "meta" / "argument_specs.yml")
    options = {name for entry in specs["argument_specs"].values() for name in entry.get("options") or {}}
    feeds: dict[str, str] = {}
    for path in sorted((ROLES / FRAME / "tasks").glob("*.yml")):
        for task in _tasks(_load(path) or []):
            if "ansible.builtin.include_role" not in task:
                continue
            for name, value in (task.get("vars") or {}).items():
                sources = set(re.findall(r"\bhybrid_routing_[a-z0-9_]+", str(value))) & options
                if len(sources) == 1 and not name.startswith(FRAME):
                    feeds[name] = sources.pop()
    return feeds


def _tasks(tasks: list[Any]):
    for task in tasks:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from _tasks(task.get(key) or [])


def _private(name: str) -> bool:
    return name.startswith("__") and any(name.startswith(f"__{path.name}_") for path in ROLES.iterdir())


def refusals(extra_vars: dict[str, Any], task_vars: dict[str, Any], set_here: set[str]) -> list[str]:
    """One sentence per name the user may not set for this run (empty: nothing to refuse).
    `set_here`: the names this task's role and the includes around it set (role vars, role and include params)."""
    found: list[str] = []
    known = action_role_names()
    feeds = frame_feeds()
    for name in sorted(set(extra_vars) | {name for name in task_vars if name in known}):
        given = name in extra_vars
        if name in known:
            entry = known[name]
            if not given and (not entry["input"] or task_vars.get(name) == entry.get("default")):
                continue  # a result, or a default an earlier include of the role exposed to the play
            where = "given with -e" if given else "set in the inventory"
            role = f"the role matbakh.hybrid_routing.{entry['role']}"
            if not entry["input"]:
                found.append(f"{name} ({where}: a result of {role}; never set it)")
            elif feeds.get(name):
                found.append(f"{name} ({where}: an input of {role}, which the levels set from {feeds[name]}; "
                             f"set {feeds[name]} instead)")
            else:
                found.append(f"{name} ({where}: an input of {role}, for which the levels use the role's default)")
        elif given and name in set_here:
            found.append(f"{name} (given with -e: this playbook sets it itself)")
        elif given and _private(name):
            found.append(f"{name} (given with -e: a private name of the collection; never set it)")
    return found


def refusal_message(found: list[str]) -> str:
    return ("Not settable for this run: " + "; ".join(found) + ". Leave " + ("it" if len(found) == 1 else "them")
            + " out (docs/variables.md lists the inputs the playbooks take). Nothing was read or written.")


def set_by_context(task: Any) -> set[str]:
    """The names the task's role (its vars and params) and the includes around it (include params) set."""
    names = set(task.get_include_params())
    role = getattr(task, "_role", None)
    if role is not None:
        names |= set(role.get_vars(include_params=True))
    return names


def refuse_unsettable(task: Any, task_vars: dict[str, Any],
                      also: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    """The failed result for a task of the frame whose run was given names it may not take, else None.
    `also`: names the entry point sets later, in includes this task does not sit in (auto_rollback's rungs)."""
    manager = task.get_variable_manager()
    found = refusals(dict(manager.extra_vars) if manager is not None else {}, task_vars,
                     set_by_context(task) | also)
    if not found:
        return None
    # refused_inputs: the frame then sends no notification either (the notify role would read the user's values).
    return {"failed": True, "changed": False, "msg": refusal_message(found),
            "refused_inputs": [sentence.split(" ", 1)[0] for sentence in found]}
