"""Every role's meta/argument_specs.yml documents exactly the variables of its defaults/main.yml, same defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p.parent.parent for p in ROLES_DIR.glob("*/meta/argument_specs.yml"))


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults), f"{role.name}: spec and defaults list different variables"
    for name, value in defaults.items():
        assert options[name].get("default") == value, f"{role.name}: default of {name} differs"
        assert name.startswith(f"{role.name}_"), f"{role.name}: public variable {name} lacks the role prefix"
        assert options[name].get("description"), f"{role.name}: {name} has no description"


def test_every_role_has_specs() -> None:
    assert {p.name for p in ROLES} == {p.name for p in ROLES_DIR.iterdir() if p.is_dir()}
