"""Every role states its interface: meta/argument_specs.yml documents exactly the variables of defaults/main.yml
with the same literal defaults (no templates), required inputs have no default, and the role has a README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p.parent.parent for p in ROLES_DIR.glob("*/meta/argument_specs.yml"))


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    required = {name for name, option in options.items() if option.get("required")}
    assert set(options) - required == set(defaults), f"{role.name}: spec and defaults list different variables"
    assert not required & set(defaults), f"{role.name}: a required input must not have a default"
    for name, option in options.items():
        assert name.startswith(f"{role.name}_"), f"{role.name}: public variable {name} lacks the role prefix"
        assert option.get("description"), f"{role.name}: {name} has no description"
        if name in defaults:
            assert option.get("default") == defaults[name], f"{role.name}: default of {name} differs"
            assert not _templated(defaults[name]), f"{role.name}: default of {name} is a template, not a value"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_a_readme(role: Path) -> None:
    assert (role / "README.md").is_file(), f"{role.name} has no README.md (Galaxy and Automation Hub need one)"


def test_every_role_has_specs() -> None:
    assert {p.name for p in ROLES} == {p.name for p in ROLES_DIR.iterdir() if p.is_dir()}


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_entry_point_states_the_same_defaults(role: Path) -> None:
    """Entry points other than main (hybrid_routing's `auto`) share defaults/main.yml: same literal values."""
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    for entry, spec in specs.items():
        for name, option in spec.get("options", {}).items():
            if option.get("required"):
                continue
            assert name in defaults, f"{role.name}:{entry}: {name} has no default in defaults/main.yml"
            assert option.get("default") == defaults[name], f"{role.name}:{entry}: default of {name} differs"
            assert option.get("description"), f"{role.name}:{entry}: {name} has no description"


# -- the frame's inputs, stated once ---------------------------------------------------------------------------

FRAME = ROLES_DIR / "hybrid_routing"
VARIABLES_MD = ROLES_DIR.parent / "docs" / "variables.md"
# Set by the playbooks (each level's playbook is the frame with its level), explained in prose, not in the table.
PLAYBOOK_SET = {"hybrid_routing_level", "hybrid_routing_direction"}


def _frame_options() -> dict[str, Any]:
    return yaml.safe_load((FRAME / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def _table() -> dict[str, tuple[str, int, int]]:
    """docs/variables.md's table: variable -> (its default cell, its place in the row, the row's variables)."""
    rows: dict[str, tuple[str, int, int]] = {}
    text = VARIABLES_MD.read_text()
    for line in text[text.index("| variable | default | meaning |"):].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        names, default = (cell.strip() for cell in line.strip("|").split("|")[:2])
        found = re.findall(r"`([a-z0-9_]+)`", names)
        for index, name in enumerate(found):
            rows[name] = (default, index, len(found))
    return rows


def test_docs_variables_list_exactly_the_frame_options_with_their_defaults() -> None:
    options, table = _frame_options(), _table()
    assert set(options) - PLAYBOOK_SET <= set(table), "options missing from docs/variables.md"
    assert set(table) - {"hybrid_routing_hosts"} <= set(options), "docs/variables.md names no such option"
    checked = 0
    for name, (cell, index, count) in table.items():
        literals = re.findall(r"`([^`]*)`", cell)
        if (name not in options or options[name].get("default") == "" or re.sub(r"`[^`]*`|,|\s", "", cell)
                or len(literals) not in (1, count)):
            continue  # a default in words ("env API_BASE"), or what empty (not set here) stands for
        literal = literals[index if len(literals) == count else 0]
        value = literal if options[name]["type"] == "str" else yaml.safe_load(literal)
        assert value == options[name].get("default"), f"{name}: docs say {value!r}, the spec {options[name]!r}"
        checked += 1
    assert checked >= 30, "most defaults are literals the docs state"


def test_each_frame_option_is_stated_in_at_most_three_places() -> None:
    """Its argument spec (every entry point shares one set of options), its default, its row in the docs."""
    sources = {"argument spec": (FRAME / "meta" / "argument_specs.yml").read_text(),
               "defaults": (FRAME / "defaults" / "main.yml").read_text(),
               "vars": (FRAME / "vars" / "main.yml").read_text()}
    table = VARIABLES_MD.read_text()
    for name in _frame_options():
        places = {where: len(re.findall(rf"^\s*{name}:", text, flags=re.M)) for where, text in sources.items()}
        places["docs"] = len(re.findall(rf"^\|[^|]*`{name}`", table, flags=re.M))
        assert places["argument spec"] == 1 and places["defaults"] == 1 and places["vars"] == 0, (name, places)
        assert sum(places.values()) <= 3, (name, places)


@pytest.mark.parametrize("playbook, level, direction", [("rollback_level1.yml", 1, "back"),
                                                        ("rollback_level2.yml", 2, "back"),
                                                        ("rollback_level3.yml", 3, "back"),
                                                        ("rollforward.yml", 1, "forward")])
def test_each_level_playbook_shows_the_action_roles_it_runs(playbook, level, direction) -> None:
    """A reader of the playbook sees the roles the frame runs for it: rollback_start's plan, without the start page
    (which depends on the receivers)."""
    from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._report import plan

    text = (ROLES_DIR.parent / "playbooks" / playbook).read_text()
    (shown,) = re.findall(r"^\s*# actions: (.+)$", text, flags=re.M)
    assert shown.split(", ") == plan(level, direction, "admin_api", [])["actions"]
    check, play = yaml.safe_load(text)  # the waves' check first (playbooks/fleet_check.yml), then the level
    assert check == {"name": "Check the fleet's waves", "ansible.builtin.import_playbook": "fleet_check.yml"}
    assert play["roles"][0]["role"] == "matbakh.hybrid_routing.hybrid_routing"
    assert play["roles"][0]["vars"] == ({"hybrid_routing_level": level} if direction == "back"
                                        else {"hybrid_routing_direction": "forward"})


def _tasks(node: Any):
    """Every task of a task file, blocks and their rescue/always included."""
    for task in node or []:
        yield task
        for part in ("block", "rescue", "always"):
            yield from _tasks(task.get(part))


def test_a_run_sets_aside_every_result_an_earlier_run_in_the_play_left():
    """Each run of the frame reads only its own results (issue 18): the first step of tasks/main.yml sets aside
    every register and fact a run of a level or the roll-forward reads, so no timestamp decides whose a result is.
    The ladder's own (auto*.yml), validate.yml's, audit_verify.yml's, and the drill's (drill.yml, baseline.yml: its
    baseline must outlive the runs it drills) are not a run's."""
    written = set()
    run_files = [path for path in (FRAME / "tasks").glob("*.yml")
                 if not path.stem.startswith(("auto", "validate", "audit_verify", "drill", "baseline"))]
    for path in run_files + [role / "tasks" / "main.yml" for role in ROLES if role != FRAME]:
        for task in _tasks(yaml.safe_load(path.read_text())):
            if task.get("name") == "Set aside the results of an earlier run in this play":
                continue
            if task.get("register"):
                written.add(task["register"])
            written.update(name for name in (task.get("ansible.builtin.set_fact") or {})
                           if name != "cacheable")
    reset = yaml.safe_load((FRAME / "tasks" / "main.yml").read_text())[0]
    assert reset["name"] == "Set aside the results of an earlier run in this play"
    assert set(reset["ansible.builtin.set_fact"]) == written
    assert reset["when"] == "__hybrid_routing_start is defined" and reset["tags"] == ["always"]


def test_the_receivers_are_mapped_once_and_reach_rollback_notify_only_through_module_defaults():
    """Issue 18: the receiver options were stated in seven places. Now: the frame's option (spec, default, docs), one
    line of the mapping, and rollback_notify's own options; the notify role does not restate them."""
    from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_notify import ARGUMENT_SPEC

    expression = yaml.safe_load((FRAME / "vars" / "main.yml").read_text())["__hybrid_routing_receivers"]
    # One Jinja mapping: 'option': hybrid_routing_variable, each option once.
    mapping = dict(re.findall(r"'(\w+)': (hybrid_routing_\w+)", expression))
    assert len(mapping) == expression.count("': ") == 20, expression
    frame_options = set(_frame_options())
    for option, source in mapping.items():
        assert option in ARGUMENT_SPEC, option
        assert source in frame_options, (option, source)
    notify = ROLES_DIR / "notify"
    spec = yaml.safe_load((notify / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    (task,) = yaml.safe_load((notify / "tasks" / "main.yml").read_text())
    stated = set(task["matbakh.hybrid_routing.rollback_notify"]) | set(spec) | set(
        yaml.safe_load((notify / "defaults" / "main.yml").read_text()))
    assert not stated & set(mapping) and not any("receivers" in name for name in stated), stated
    runtime = yaml.safe_load((ROLES_DIR.parent / "meta" / "runtime.yml").read_text())
    assert runtime["action_groups"]["receivers"] == ["rollback_notify"]
    for entry in ("main.yml", "auto.yml"):
        text = (FRAME / "tasks" / entry).read_text()
        assert 'group/matbakh.hybrid_routing.receivers: "{{ __hybrid_routing_receivers_defaults }}"' in text
