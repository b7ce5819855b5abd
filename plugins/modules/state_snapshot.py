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
  - With O(lambda_functions), it also records where each function's alias points and the published version before
    it; a kept snapshot that lacks a function gets it added (Levels 1 and 2 do not touch Lambda, so that is still the
    pre-incident state).
  - O(state=archived) renames the snapshot to C(snapshot-<taken_at>-restored.json) once a roll-forward restored it,
    so the next incident starts a new one.
  - The file is written atomically with mode 0600; it holds no credentials.
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
    details: Reads the state and returns the snapshot it would write; writes no file.
  diff_mode:
    support: full
  idempotent:
    support: full
    details: An existing snapshot is kept, so a second run reports no change.
options:
  state:
    description: V(present) takes or keeps the snapshot; V(archived) sets a restored snapshot aside.
    type: str
    choices: [present, archived]
    default: present
  lambda_functions:
    description: Lambda functions whose O(lambda_alias) to record (the C(aws_lambda_alias) release strategy).
    type: list
    elements: str
    default: []
  lambda_alias:
    description: Alias recorded for each of O(lambda_functions).
    type: str
    default: live
  path:
    description: Snapshot file. Parent directories are created (mode 0700).
    type: path
    required: true
  environment:
    description: Name of the environment the snapshot belongs to (the inventory host); recorded and checked.
    type: str
    required: true
  force:
    description:
      - Start a new snapshot even though one exists. The old one is kept aside as
        C(snapshot-<taken_at>-superseded.json), never deleted.
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
    lambda: {"alias": "live", "functions": {"hybrid-router": {"version": "3", "previous": "2"}}}
path:
  description: The snapshot file (after O(state=archived), where it was moved to).
  returned: success
  type: str
  sample: /var/lib/matbakh/prod/snapshot.json
superseded:
  description: Where an older snapshot was set aside (O(force) or O(max_age_seconds)), or null.
  returned: success
  type: str
  sample: /var/lib/matbakh/prod/snapshot-20261101T120000Z-superseded.json
kept:
  description: Whether an existing snapshot was kept instead of taking a new one.
  returned: success
  type: bool
  sample: false
"""

import calendar
import json
import os
import tempfile
import time
from typing import Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIModule
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import (
    AWS_ARGSPEC,
    BOTO3_IMPORT_ERROR,
    HAS_BOTO3,
    AWSError,
    alias_state,
    lambda_client,
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
        self.superseded: str | None = None

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

    def _lambda_section(self, existing: dict[str, Any] | None) -> dict[str, Any] | None:
        """The lambda part with every requested function, reading only those the snapshot lacks; None if complete."""
        params = self.frame.params
        wanted = params["lambda_functions"]
        if not wanted:
            return None
        section = dict((existing or {}).get("lambda") or {"alias": params["lambda_alias"], "functions": {}})
        if section.get("alias") != params["lambda_alias"]:
            self.frame.fail(
                f"Snapshot {self.path} recorded Lambda alias {section.get('alias')!r}, not {params['lambda_alias']!r}"
            )
        missing = [name for name in wanted if name not in section["functions"]]
        if not missing:
            return None
        if not HAS_BOTO3:
            self.frame.module.fail_json(msg=missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)
        try:
            client = lambda_client(params)
            functions = dict(section["functions"])
            for name in missing:
                functions[name] = alias_state(client, name, params["lambda_alias"])
        except AWSError as exc:
            self.frame.fail(f"{exc}. Nothing was written.")
        return dict(section, functions=functions)

    def _set_aside(self, existing: dict[str, Any], suffix: str) -> str:
        stamp = str(existing.get("taken_at", "unknown")).replace(":", "").replace("-", "")
        target = os.path.join(os.path.dirname(self.path), f"snapshot-{stamp}-{suffix}.json")
        if not self.frame.check_mode:
            os.replace(self.path, target)
        return target

    def archive(self) -> dict[str, Any]:
        if not os.path.exists(self.path):
            return {"changed": False, "path": self.path, "snapshot": None, "kept": False, "superseded": None}
        existing = self._existing() or {}
        target = self._set_aside(existing, "restored")
        return {"changed": True, "path": target, "snapshot": existing, "kept": False, "superseded": None}

    def _too_old(self, existing: dict[str, Any]) -> bool:
        max_age = self.frame.params["max_age_seconds"]
        try:
            taken = calendar.timegm(time.strptime(existing["taken_at"], "%Y-%m-%dT%H:%M:%SZ"))
        except (KeyError, TypeError, ValueError):
            return max_age > 0
        return max_age > 0 and time.time() - taken > max_age

    def run(self) -> dict[str, Any]:
        if self.frame.params["state"] == "archived":
            return self.archive()
        existing = self._existing()
        outdated = None
        if existing is not None and (self.frame.params["force"] or self._too_old(existing)):
            outdated, existing = existing, None
        if existing is not None:
            lambda_section = self._lambda_section(existing)
            if lambda_section is None:
                return {"changed": False, "snapshot": existing, "path": self.path, "kept": True, "superseded": None}
            snapshot = dict(existing, **{"lambda": lambda_section})
            return self._write(snapshot, kept=True)
        snapshot = self._take()
        lambda_section = self._lambda_section(None)
        if lambda_section is not None:
            snapshot["lambda"] = lambda_section
        if outdated is not None:
            # Set aside only once the new state has been read, so a failed read leaves the old snapshot in place.
            self.superseded = self._set_aside(outdated, "superseded")
        return self._write(snapshot, kept=False)

    def _write(self, snapshot: dict[str, Any], kept: bool) -> dict[str, Any]:
        before_text = ""
        if self.frame.diff_mode and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as handle:
                before_text = handle.read()
        if not self.frame.check_mode:
            try:
                write_atomically(self.path, snapshot)
            except OSError as exc:
                self.frame.fail(f"Cannot write snapshot {self.path}: {exc.strerror}. Nothing was changed yet.")
        result: dict[str, Any] = {
            "changed": True, "snapshot": snapshot, "path": self.path, "kept": kept, "superseded": self.superseded
        }
        if self.frame.diff_mode:
            result["diff"] = {
                "before": before_text,
                "after": json.dumps(snapshot, indent=2, sort_keys=True) + "\n",
                "before_header": self.path,
                "after_header": self.path,
            }
        return result


def main() -> None:
    argument_spec = dict(AWS_ARGSPEC)
    argument_spec.update(
        state=dict(type="str", choices=["present", "archived"], default="present"),
        lambda_functions=dict(type="list", elements="str", default=[]),
        lambda_alias=dict(type="str", default="live"),
        path=dict(type="path", required=True),
        environment=dict(type="str", required=True),
        force=dict(type="bool", default=False),
        max_age_seconds=dict(type="float", default=0.0),
    )
    frame = AdminAPIModule(argument_spec, supports_check_mode=True)
    frame.run(SnapshotManager(frame).run)


if __name__ == "__main__":
    main()
