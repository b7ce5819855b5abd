"""Make the working tree importable as ansible_collections.matbakh.hybrid_routing for every test."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS_ROOT = Path(tempfile.mkdtemp(prefix="hr-collections-"))
_link = COLLECTIONS_ROOT / "ansible_collections" / "matbakh" / "hybrid_routing"
_link.parent.mkdir(parents=True)
_link.symlink_to(REPO)
sys.path.insert(0, str(COLLECTIONS_ROOT))
os.environ["HR_TEST_COLLECTIONS_ROOT"] = str(COLLECTIONS_ROOT)

# The slowest test files, slowest first (from the test command's --durations). pytest-xdist hands tests out in
# collection order, where these come last (tests/integration after unit and sandbox); a 4-minute drill test then
# runs alone at the end while the other worker idles. Started first, they overlap with everything else.
SLOW_FIRST = ("test_documented_commands.py", "test_drills.py", "test_reliability_receivers.py",
              "test_reliability_load.py", "test_slow_service.py", "test_trigger_rules.py", "test_awx.py",
              "test_auto_rollback.py", "test_reliability_kills.py", "test_eda.py", "test_validate.py")


def pytest_collection_modifyitems(items: list) -> None:
    def rank(item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    # A stable sort keeps each file's tests together, so module-scoped fixtures (one sandbox per file) stay shared.
    items.sort(key=rank)
