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
