#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: state_snapshot
short_description: Record the service state (flags, routing, release) before a rollback changes it
version_added: 0.1.0
description:
  - Reads the feature flags, the routing mode and the current release, and writes them to a JSON file that a later
    roll-forward restores from.
  - The snapshot holds the state before the first rollback of an incident. When O(path) already holds a snapshot of
    the same environment, it is kept and returned unchanged (no API read), so re-running or escalating a rollback
    never overwrites the pre-incident state with an already rolled back one. O(force=true) replaces it.
  - The file is written atomically with mode 0600; it holds no credentials.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Reads the state and returns the snapshot it would write; writes no file.
  diff_mode:
    support: full
  idempotent:
    support: full
    details: An existing snapshot is kept, so a second run reports no change.
options:
  path:
    description: Snapshot file. Parent directories are created (mode 0700).
    type: path
    required: true
  environment:
    description: Name of the environment the snapshot belongs to (the inventory host); recorded and checked.
    type: str
    required: true
  force:
    description: Replace an existing snapshot with the current state.
    type: bool
    default: false
"""

EXAMPLES = r"""
---
- name: Snapshot the state before changing it
  matbakh.hybrid_routing.state_snapshot:
    path: "{{ hybrid_routing_state_dir }}/{{ inventory_hostname }}/snapshot.json"
    environment: "{{ inventory_hostname }}"
  register: snapshot
"""

RETURN = r"""
snapshot:
  description: The snapshot content (written, kept, or that would be written in check mode).
  returned: success
  type: dict
  sample:
    schema_version: 1
    environment: prod
    taken_at: "2026-11-28T12:00:00Z"
    rollback_id: rb-20261128T120000Z-1a2b
    flags: {"hybrid_routing": true}
    routing: {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}}
    release: {"current": "2025.01.14-2", "previous": "2025.01.10-1"}
path:
  description: The snapshot file.
  returned: success
  type: str
  sample: /var/lib/matbakh/prod/snapshot.json
kept:
  description: Whether an existing snapshot was kept instead of taking a new one.
  returned: success
  type: bool
  sample: false
"""

import json
import os
import tempfile
import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import (
    AdminAPIModule,
)

SCHEMA_VERSION = 1


def load_snapshot(path: str) -> dict[str, Any]:
    """Read and sanity-check a snapshot file; raise ValueError with a readable reason."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ValueError(f"cannot read snapshot {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"snapshot {path} is not valid JSON ({exc})") from None
    missing = [key for key in ("schema_version", "environment", "flags", "routing", "release") if key not in data]
    if not isinstance(data, dict) or missing:
        raise ValueError(f"snapshot {path} is incomplete (missing {', '.join(missing)})")
    if data["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"snapshot {path} has schema_version {data['schema_version']}, expected {SCHEMA_VERSION}")
    return data


def write_atomically(path: str, data: dict[str, Any]) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class SnapshotManager:
    def __init__(self, frame: AdminAPIModule):
        self.frame = frame
        self.path: str = frame.params["path"]
        self.environment: str = frame.params["environment"]

    def _existing(self) -> dict[str, Any] | None:
        if not os.path.exists(self.path):
            return None
        try:
            existing = load_snapshot(self.path)
        except ValueError as exc:
            self.frame.fail(f"{exc}. Move it aside or run with force=true to take a new snapshot.")
        if existing["environment"] != self.environment:
            self.frame.fail(
                f"Snapshot {self.path} belongs to environment {existing['environment']!r}, not "
                f"{self.environment!r}: point the state directory at this environment's own folder."
            )
        return existing

    def _take(self) -> dict[str, Any]:
        api = self.frame.api
        flags = {name: bool(doc.get("enabled")) for name, doc in api.flags().items()}
        routing = api.routing()
        releases = api.releases()
        return {
            "schema_version": SCHEMA_VERSION,
            "environment": self.environment,
            "api_base": api.http.base_url,
            "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rollback_id": self.frame.params["rollback_id"],
            "flags": flags,
            "routing": {"mode": routing.get("mode"), "weights": routing.get("weights")},
            "release": {"current": releases.get("current"), "previous": releases.get("previous")},
        }

    def run(self) -> dict[str, Any]:
        existing = None if self.frame.params["force"] else self._existing()
        if existing is not None:
            return {"changed": False, "snapshot": existing, "path": self.path, "kept": True}
        snapshot = self._take()
        before_text = ""
        if self.frame.diff_mode and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as handle:
                before_text = handle.read()
        if not self.frame.check_mode:
            try:
                write_atomically(self.path, snapshot)
            except OSError as exc:
                self.frame.fail(f"Cannot write snapshot {self.path}: {exc.strerror}. Nothing was changed yet.")
        result: dict[str, Any] = {"changed": True, "snapshot": snapshot, "path": self.path, "kept": False}
        if self.frame.diff_mode:
            result["diff"] = {
                "before": before_text,
                "after": json.dumps(snapshot, indent=2, sort_keys=True) + "\n",
                "before_header": self.path,
                "after_header": self.path,
            }
        return result


def main() -> None:
    argument_spec = dict(
        path=dict(type="path", required=True),
        environment=dict(type="str", required=True),
        force=dict(type="bool", default=False),
    )
    frame = AdminAPIModule(argument_spec, supports_check_mode=True)
    frame.run(SnapshotManager(frame).run)


if __name__ == "__main__":
    main()
