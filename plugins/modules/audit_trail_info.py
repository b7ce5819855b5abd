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
  - A missing trail is empty and valid.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.READ_ONLY
options:
  path:
    description: The trail file.
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
"""

RETURN = r"""
valid:
  description: The whole chain holds.
  returned: always
  type: bool
  sample: false
records:
  description: How many lines the trail has.
  returned: always
  type: int
  sample: 42
first_broken:
  description: The first record that breaks the chain (C(line), C(seq), C(reason)), or null.
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
finished_at:
  description: When the module finished, in epoch seconds.
  returned: always
  type: float
  sample: 1798012345.123
"""

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._audit import AuditError, verify
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, run_as_module

ARGUMENT_SPEC: dict[str, Any] = dict(
    path=dict(type="path", required=True),
    fail_when_broken=dict(type="bool", default=False),
    last=dict(type="int", default=0),
)
FRAME = Frame


def work(frame: Frame) -> dict[str, Any]:
    if frame.params["last"] < 0:
        frame.fail(f"last must be 0 or more, got {frame.params['last']}")
    try:
        found = verify(frame.params["path"], keep_last=frame.params["last"])
    except AuditError as exc:
        frame.fail(str(exc))
    broken = found["first_broken"]
    if broken and frame.params["fail_when_broken"]:
        frame.fail(f"The audit trail {frame.params['path']} is broken at line {broken['line']} (seq {broken['seq']}): "
                   f"{broken['reason']}.", **found)
    return found


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
