"""Every module's DOCUMENTATION, EXAMPLES and RETURN parse as YAML and document what main() accepts."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

MODULES = sorted(p.stem for p in (Path(__file__).resolve().parents[4] / "plugins" / "modules").glob("*.py"))


@pytest.mark.parametrize("name", MODULES)
def test_docs_parse_and_are_complete(name: str) -> None:
    module = importlib.import_module(f"ansible_collections.matbakh.hybrid_routing.plugins.modules.{name}")
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name and doc["short_description"] and doc["description"]
    from_fragment = "matbakh.hybrid_routing.attributes.READ_ONLY" in doc.get("extends_documentation_fragment", [])
    assert from_fragment or {"check_mode", "diff_mode", "idempotent"} <= set(doc["attributes"])
    assert yaml.safe_load(module.EXAMPLES), "EXAMPLES is empty"
    returned = yaml.safe_load(module.RETURN)
    assert returned and all({"description", "returned", "type"} <= set(v) for v in returned.values())
