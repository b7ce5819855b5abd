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
  - Reads the feature flags, the routing mode and the current release, and stores them in the service
    (C(PUT /admin/rollback/snapshot), create-only), so that every controller and AWX job sees the same snapshot; a copy
    goes to the local file O(path) for people to read.
  - The snapshot holds the state before the first rollback of an incident. When the service already holds one of the
    same environment it is kept, so re-running, escalating or resuming a rollback from another controller never
    replaces the pre-incident state with an already rolled back one.
  - With O(lambda_functions), it also records where each function's alias points and the published version before
    it; a kept snapshot that lacks a function gets it added (Levels 1 and 2 do not touch Lambda).
  - O(force=true), or a kept snapshot older than O(max_age_seconds), starts a new one; the old one is kept aside in
    the local folder as C(snapshot-<taken_at>-superseded.json).
  - O(state=read) returns the stored snapshot (or none) and refuses one taken for another environment or API.
    O(state=archived) removes it from the service once a roll-forward restored it, keeping a local
    C(snapshot-<taken_at>-restored.json).
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.admin_api
attributes:
  check_mode:
    support: full
    details: Reads the state and returns the snapshot it would store; writes nothing, locally or in the service.
  diff_mode:
    support: full
  idempotent:
    support: full
    details: An existing snapshot is kept, so a second run reports no change.
  action_group:
    description: >-
      Use C(group/matbakh.hybrid_routing.admin_api) and C(group/matbakh.hybrid_routing.aws) in C(module_defaults) to
      set the connection and AWS options once.
    support: full
    membership:
      - matbakh.hybrid_routing.admin_api
      - matbakh.hybrid_routing.aws
options:
  state:
    description: V(present) takes or keeps the snapshot; V(read) returns it; V(archived) sets a restored one aside.
    type: str
    choices: [present, read, archived]
    default: present
  path:
    description:
      - Local copy of the snapshot (mode 0600; parent folders 0700). Superseded and restored snapshots are kept beside
        it. The service's copy is the one that counts.
    type: path
    required: true
  environment:
    description: Name of the environment the snapshot belongs to (the inventory host); recorded and checked.
    type: str
    required: true
  lambda_functions:
    description: Lambda functions whose O(lambda_alias) to record (the C(aws_lambda_alias) release strategy).
    type: list
    elements: str
    default: []
  lambda_alias:
    description: Alias recorded for each of O(lambda_functions).
    type: str
    default: live
  force:
    description: Start a new snapshot even though one exists; the old one is kept aside locally, never deleted.
    type: bool
    default: false
  max_age_seconds:
    description:
      - A kept snapshot older than this is set aside (as with O(force)) and a new one taken, so a snapshot left over
        from an old incident that was never rolled forward does not stand for today's state. V(0) keeps any age.
    type: float
    default: 0
"""

EXAMPLES = r"""
---
- name: Snapshot the state before changing it
  matbakh.hybrid_routing.state_snapshot:
    path: "{{ hybrid_routing_state_dir }}/{{ inventory_hostname }}/snapshot.json"
    environment: "{{ inventory_hostname }}"
  register: snapshot

- name: Read it back for a roll-forward
  matbakh.hybrid_routing.state_snapshot:
    state: read
    path: "{{ hybrid_routing_state_dir }}/{{ inventory_hostname }}/snapshot.json"
    environment: "{{ inventory_hostname }}"
  register: stored
"""

RETURN = r"""
snapshot:
  description: The snapshot (stored, kept, read, archived, or that would be stored in check mode); null when none.
  returned: success
  type: dict
  sample:
    schema_version: 1
    environment: prod
    api_base: https://api.matbakh.app
    taken_at: "2026-11-28T12:00:00Z"
    rollback_id: rb-20261128T120000Z-1a2b
    flags: {"hybrid_routing": true}
    routing: {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}}
    release: {"current": "2025.01.14-2", "previous": "2025.01.10-1"}
    lambda: {"alias": "live", "functions": {"hybrid-router": {"version": "3", "previous": "2"}}}
path:
  description: The local copy (after O(state=archived), where the restored snapshot was kept).
  returned: success
  type: str
  sample: /var/lib/matbakh/prod/snapshot.json
kept:
  description: Whether an existing snapshot was kept instead of taking a new one.
  returned: success
  type: bool
  sample: false
superseded:
  description: Where an older snapshot was kept aside (O(force) or O(max_age_seconds)), or null.
  returned: success
  type: str
  sample: /var/lib/matbakh/prod/snapshot-20261101T120000Z-superseded.json
finished_at:
  description:
    - When the module finished, in epoch seconds, by the clock of the host that ran it (the controller for the
      inventories of this collection). The rollback report times its phases from it.
  returned: always
  type: float
  sample: 1796040012.345
"""

import calendar
import json
import os
import tempfile
import time
from typing import Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIFrame
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import (
    AWS_ARGSPEC,
    BOTO3_IMPORT_ERROR,
    HAS_BOTO3,
    AWSError,
    alias_state,
    lambda_client,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema_version", "environment", "flags", "routing", "release")


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
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        self.params = frame.params
        self.path: str = os.path.abspath(frame.params["path"])
        self.environment: str = frame.params["environment"]

    def _stored(self) -> dict[str, Any] | None:
        """The service's snapshot, checked to belong here; None when there is none."""
        document = self.frame.api.snapshot()
        if document is None:
            return None
        snapshot = document.get("snapshot") or {}
        missing = [key for key in REQUIRED_KEYS if key not in snapshot]
        if missing:
            self.frame.fail(f"The stored snapshot is incomplete (missing {', '.join(missing)}); "
                            "take a new one with force=true.")
        if snapshot["environment"] != self.environment or snapshot.get("api_base") != self.frame.api.http.base_url:
            self.frame.fail(
                f"The stored snapshot was taken for environment {snapshot['environment']!r} at "
                f"{snapshot.get('api_base')}, not for {self.environment!r} at {self.frame.api.http.base_url}: "
                "refusing to use it here. Check the inventory (two environments pointing at one API?)."
            )
        return snapshot

    def _too_old(self, snapshot: dict[str, Any]) -> bool:
        max_age = self.params["max_age_seconds"]
        if max_age <= 0:
            return False
        try:
            taken = calendar.timegm(time.strptime(snapshot["taken_at"], "%Y-%m-%dT%H:%M:%SZ"))
        except (KeyError, TypeError, ValueError):
            return True
        return time.time() - taken > max_age

    def _take(self) -> dict[str, Any]:
        api = self.frame.api
        routing = api.routing()
        releases = api.releases()
        return {
            "schema_version": SCHEMA_VERSION,
            "environment": self.environment,
            "api_base": api.http.base_url,
            "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rollback_id": self.params["rollback_id"],
            "flags": api.flags(),
            "routing": {"mode": routing.get("mode"), "weights": routing.get("weights")},
            "release": {"current": releases.get("current"), "previous": releases.get("previous")},
        }

    def _with_lambda(self, snapshot: dict[str, Any]) -> dict[str, Any] | None:
        """The snapshot with every requested function recorded, or None when nothing was missing."""
        wanted = self.params["lambda_functions"]
        alias = self.params["lambda_alias"]
        section = dict(snapshot.get("lambda") or {"alias": alias, "functions": {}})
        if section.get("alias") != alias:
            self.frame.fail(f"The snapshot recorded Lambda alias {section.get('alias')!r}, not {alias!r}")
        missing = [name for name in wanted if name not in section["functions"]]
        if not missing:
            return None
        if not HAS_BOTO3:
            self.frame.fail(missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)
        try:
            client = lambda_client(self.params)
            functions = dict(section["functions"])
            for name in missing:
                functions[name] = alias_state(client, name, alias)
        except AWSError as exc:
            self.frame.fail(f"{exc}. Nothing was written.")
        return dict(snapshot, **{"lambda": dict(section, functions=functions)})

    def _aside(self, snapshot: dict[str, Any], suffix: str) -> str:
        stamp = str(snapshot.get("taken_at", "unknown")).replace(":", "").replace("-", "")
        target = os.path.join(os.path.dirname(self.path) or ".", f"snapshot-{stamp}-{suffix}.json")
        if not self.frame.check_mode:
            write_atomically(target, snapshot)
            if os.path.exists(self.path):
                os.unlink(self.path)
        return target

    def _copy(self, snapshot: dict[str, Any]) -> None:
        if self.frame.check_mode:
            return
        try:
            write_atomically(self.path, snapshot)
        except OSError as exc:
            self.frame.warn(f"Could not write the local snapshot copy {self.path}: {exc.strerror}")

    def _result(self, changed: bool, snapshot: dict[str, Any] | None, before: dict[str, Any] | None = None,
                **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"changed": changed, "snapshot": snapshot, "path": self.path, "kept": False,
                                  "superseded": None}
        result.update(extra)
        if self.frame.diff_mode and changed:
            result["diff"] = {
                "before": json.dumps(before, indent=2, sort_keys=True) + "\n" if before else "",
                "after": json.dumps(snapshot, indent=2, sort_keys=True) + "\n" if snapshot else "",
                "before_header": "stored rollback snapshot",
                "after_header": "stored rollback snapshot",
            }
        return result

    def read(self) -> dict[str, Any]:
        return self._result(False, self._stored())

    def archive(self) -> dict[str, Any]:
        stored = self._stored()
        if stored is None:
            return self._result(False, None)
        if not self.frame.check_mode:
            self.frame.api.delete_snapshot()
        return self._result(True, stored, before=stored, path=self._aside(stored, "restored"))

    def present(self) -> dict[str, Any]:
        stored = self._stored()
        superseded = None
        if stored is not None and not (self.params["force"] or self._too_old(stored)):
            grown = self._with_lambda(stored)
            if grown is None:
                if not os.path.exists(self.path):
                    self._copy(stored)
                return self._result(False, stored, kept=True)
            if not self.frame.check_mode:
                self.frame.api.store_snapshot(grown, create_only=False)
                self._copy(grown)
            return self._result(True, grown, before=stored, kept=True)
        snapshot = self._take()
        snapshot = self._with_lambda(snapshot) or snapshot
        if self.frame.check_mode:
            return self._result(True, snapshot, before=stored)
        if stored is not None:
            # Kept aside only once the new state has been read, so a failed read leaves the old snapshot in place.
            superseded = self._aside(stored, "superseded")
            self.frame.api.store_snapshot(snapshot, create_only=False)
        else:
            created, winner = self.frame.api.store_snapshot(snapshot, create_only=True)
            if not created:
                # Another run stored the pre-incident state a moment earlier: that one counts.
                self._copy(winner.get("snapshot", winner))
                return self._result(False, winner.get("snapshot", winner), kept=True)
        self._copy(snapshot)
        return self._result(True, snapshot, before=stored, superseded=superseded)


ARGUMENT_SPEC: dict[str, Any] = dict(
    AWS_ARGSPEC,
    state=dict(type="str", choices=["present", "read", "archived"], default="present"),
    path=dict(type="path", required=True),
    environment=dict(type="str", required=True),
    lambda_functions=dict(type="list", elements="str", default=[]),
    lambda_alias=dict(type="str", default="live"),
    force=dict(type="bool", default=False),
    max_age_seconds=dict(type="float", default=0.0),
)
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    manager = SnapshotManager(frame)
    return {"present": manager.present, "read": manager.read, "archived": manager.archive}[frame.params["state"]]()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
