#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_trail_info
short_description: Verify the rollback audit trail and report the first broken record
version_added: 0.3.0
description:
  - Walks the chain of an audit trail written by M(matbakh.hybrid_routing.audit_trail) - each record's hash, its
    link to the record before and its sequence number - and reports the first record that breaks it (edited,
    deleted, inserted or moved), by line and sequence number.
  - The trail is a file, or the environment's chain in the shared store (O(path) V(s3://bucket/prefix/)), read
    whole; there the first broken record is named by its key, and a deleted last record is found by the chain's head.
  - In the store it also reports the bucket's Object Lock retention (RV(retention)).
  - A missing trail is empty and valid.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.READ_ONLY
options:
  path:
    description:
      - The trail file, or the chain's location in the shared store, V(s3://bucket/prefix/) (the AWS options apply).
    type: path
    required: true
  fail_when_broken:
    description: Fail the task when the chain is broken (the message names the first broken record).
    type: bool
    default: false
  last:
    description: Also return the last N records that parse (RV(last_records)), oldest first; V(0) returns none.
    type: int
    default: 0
seealso:
  - module: matbakh.hybrid_routing.audit_trail
"""

EXAMPLES = r"""
---
- name: Verify the trail
  matbakh.hybrid_routing.audit_trail_info:
    path: /var/lib/matbakh/audit/prod.jsonl
    fail_when_broken: true

- name: Verify an environment's chain in the shared store
  matbakh.hybrid_routing.audit_trail_info:
    path: s3://matbakh-rollback-records/hybrid-routing/prod-eu/audit/
    region: eu-central-1
    fail_when_broken: true
"""

RETURN = r"""
valid:
  description: The whole chain holds.
  returned: always
  type: bool
  sample: false
records:
  description: How many lines (in the store, record objects) the trail has.
  returned: always
  type: int
  sample: 42
first_broken:
  description:
    - The first record that breaks the chain (C(line), C(seq), C(reason)), or null.
    - In the store C(key) names the record's object and C(line) is null.
  returned: always
  type: dict
  sample: {"line": 17, "seq": 17, "reason": "its content does not match its hash (edited)"}
last_hash:
  description: The hash the chain holds up to (of the last record, or of the last good one).
  returned: always
  type: str
  sample: 41aa09c3...
last_records:
  description: The last O(last) records, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"event": "rollback", "level": 2, "outcome": "success", "drill": true, "seq": 12}]
summary:
  description: One sentence on the trail - where, how many records, intact or the first broken one, retention.
  returned: always
  type: str
  sample: "The audit trail s3://records/hybrid-routing/prod-eu/audit/ holds 42 records; the chain is intact."
retention:
  description:
    - The Object Lock of the store's bucket (C(enabled), C(mode), C(days), C(years)); null for a file.
  returned: always
  type: dict
  sample: {"enabled": true, "mode": "COMPLIANCE", "days": 400, "years": null}
finished_at:
  description: When the module finished, in epoch seconds.
  returned: always
  type: float
  sample: 1798012345.123
"""

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _records
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._audit import AuditError, verify
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, run_as_module

ARGUMENT_SPEC: dict[str, Any] = dict(
    path=dict(type="path", required=True),
    fail_when_broken=dict(type="bool", default=False),
    last=dict(type="int", default=0),
)
FRAME = _records.RecordsFrame


def summary(path: str, found: dict[str, Any]) -> str:
    """The trail's state in one sentence: intact, or where and why it breaks; and the store's retention."""
    broken = found["first_broken"]
    if broken:
        where = f"record {broken['key']}" if broken.get("key") else f"line {broken['line']}"
        text = (f"The audit trail {path} is broken at {where} (seq {broken['seq']}): {broken['reason']}. It has "
                f"{found['records']} records.")
    else:
        text = f"The audit trail {path} holds {found['records']} records; the chain is intact."
    retention = found["retention"]
    if retention is None:
        return text
    if not (retention["enabled"] and retention["mode"]):
        return text + " Object Lock: no default retention (docs/audit.md)."
    period = f"{retention['years']} years" if retention["years"] else f"{retention['days']} days"
    return text + f" Object Lock: {retention['mode']}, {period}."


def work(frame: Frame) -> dict[str, Any]:
    params = frame.params
    if params["last"] < 0:
        frame.fail(f"last must be 0 or more, got {params['last']}")
    path = params["path"]
    try:
        found = verify(path, keep_last=params["last"], aws=params)
        found["retention"] = _records.store(path, params)[0].retention() if _records.in_s3(path) else None
    except AuditError as exc:
        frame.fail(str(exc))
    found["summary"] = summary(path, found)
    broken = found["first_broken"]
    if broken and params["fail_when_broken"]:
        frame.fail(found["summary"], **{key: value for key, value in found.items() if key != "summary"})
    return found


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
