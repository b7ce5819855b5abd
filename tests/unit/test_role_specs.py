"""Every role states its interface: meta/argument_specs.yml documents exactly the variables of defaults/main.yml
with the same literal defaults (no templates), required inputs have no default, and the role has a README."""

from __future__ import annotations

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
