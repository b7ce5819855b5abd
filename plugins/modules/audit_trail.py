#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_trail
short_description: Append a record to the tamper-evident rollback audit trail
version_added: 0.3.0
description:
  - Appends O(record) to an append-only JSON Lines file, chained to the record before it by SHA-256 (C(seq),
    C(prev), C(hash)), so that an edit, a deletion or a reordering is found by
    M(matbakh.hybrid_routing.audit_trail_info).
  - The append holds an exclusive lock on the file from reading the last record to the fsync of the new one, so
    runs writing at once on one controller lose nothing and keep the chain valid.
  - In the shared store (O(path) V(s3://bucket/prefix/)) each record is an object written only if its sequence
    number is free (If-None-Match), so controllers writing at once never fork the chain - the one that loses
    re-reads the end of the chain and appends after it. The bucket's Object Lock retention keeps the records.
  - No personal data - the free-text fields (O(free_text)) are checked against a list of patterns (email, IBAN,
    card and phone numbers) before anything is written; O(on_personal_data) refuses the record or redacts them.
  - Optionally ships the stored record to CloudWatch Logs (O(cloudwatch_log_group)), creating the group and stream.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Checks the record and returns it as it would be stored; writes and ships nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: With O(record_id), a record whose C(record_id) is already in the trail is not appended again.
options:
  path:
    description:
      - The trail file (created with mode 0600, its directory with 0700), or the environment's chain in the shared
        store, V(s3://bucket/prefix/) (the AWS options apply).
    type: path
    required: true
  record:
    description: The record; the keys C(seq), C(prev) and C(hash) are the trail's own and are replaced.
    type: dict
    required: true
  record_id:
    description:
      - An id for the record (for example the rollback id and the event); a record with it already in the trail is
        not written again. Default the record's own C(record_id) key, if any.
    type: str
  free_text:
    description: Keys of O(record) that hold free text, checked for personal data.
    type: list
    elements: str
    default: [reason, summary, failure, break_glass_reason, notes]
  on_personal_data:
    description: V(refuse) fails the task, writing nothing; V(redact) replaces what was found with C([redacted]).
    type: str
    choices: [refuse, redact]
    default: refuse
  cloudwatch_log_group:
    description: Also ship the stored record to this CloudWatch Logs group.
    type: str
  cloudwatch_log_stream:
    description: The log stream in O(cloudwatch_log_group).
    type: str
    default: hybrid-routing-audit
seealso:
  - module: matbakh.hybrid_routing.audit_trail_info
"""

EXAMPLES = r"""
---
- name: Record the decision
  matbakh.hybrid_routing.audit_trail:
    path: /var/lib/matbakh/audit/prod.jsonl
    record_id: "{{ rollback_id }}:authorized"
    record:
      event: authorization
      rollback_id: "{{ rollback_id }}"
      level: 2
      requester: alice
      approver: mark
"""

RETURN = r"""
record:
  description: The record as stored (or, in check mode and when it was already there, as it would be / is).
  returned: always
  type: dict
  sample: {"event": "rollback", "seq": 12, "prev": "9f2c...", "hash": "41aa...", "at": "2026-11-29T10:15:00.123456Z"}
shipped:
  description: Whether the record went to CloudWatch Logs.
  returned: always
  type: bool
  sample: false
redacted:
  description: The fields in which personal data was redacted, and what it looked like.
  returned: always
  type: list
  elements: str
  sample: ["reason: an email address"]
finished_at:
  description: When the module finished, in epoch seconds.
  returned: always
  type: float
  sample: 1798012345.123
"""

import json
import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._audit import (
    AuditError,
    append,
    find,
    pii_findings,
    redact,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSAccess, AWSError, AWSFrame, call
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module


def ship(frame: AWSFrame, stored: dict[str, Any]) -> None:
    params = frame.params
    client = AWSAccess(params, "logs").client
    group, stream = params["cloudwatch_log_group"], params["cloudwatch_log_stream"]
    for description, method, kwargs in (
        (f"Creating log group {group}", client.create_log_group, {"logGroupName": group}),
        (f"Creating log stream {stream}", client.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
    ):
        try:
            call(description, method, **kwargs)
        except AWSError as exc:
            if "ResourceAlreadyExistsException" not in str(exc):
                raise
    call("Shipping the audit record (PutLogEvents)", client.put_log_events, logGroupName=group, logStreamName=stream,
         logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(stored, sort_keys=True)}])


ARGUMENT_SPEC: dict[str, Any] = dict(
    path=dict(type="path", required=True),
    record=dict(type="dict", required=True),
    record_id=dict(type="str"),
    free_text=dict(type="list", elements="str",
                   default=["reason", "summary", "failure", "break_glass_reason", "notes"]),
    on_personal_data=dict(type="str", choices=["refuse", "redact"], default="refuse"),
    cloudwatch_log_group=dict(type="str"),
    cloudwatch_log_stream=dict(type="str", default="hybrid-routing-audit"),
)
FRAME = AWSFrame


def work(frame: AWSFrame) -> dict[str, Any]:
    params = frame.params
    record = dict(params["record"])
    record_id = params["record_id"] or record.get("record_id")
    if record_id:
        record["record_id"] = record_id
    found = pii_findings(record, params["free_text"])
    shown = [f"{field}: {what}" for field, what in found]
    if found and params["on_personal_data"] == "refuse":
        frame.fail(f"The audit record holds what looks like personal data ({'; '.join(shown)}); nothing was "
                   "written. Refer to people by their configured ids and leave personal data out of free text.")
    record = redact(record, params["free_text"]) if found else record
    path = params["path"]
    try:
        existing = find(path, record_id, aws=params, mend=not frame.check_mode) if record_id else None
        if existing is not None:
            return {"record": existing, "shipped": False, "redacted": shown}
        if frame.check_mode:
            return {"changed": True, "record": record, "shipped": False, "redacted": shown}
        stored = append(path, record, aws=params)
    except AuditError as exc:
        frame.fail(str(exc))
    if params["cloudwatch_log_group"]:
        ship(frame, stored)
    return {"changed": True, "record": stored, "shipped": bool(params["cloudwatch_log_group"]), "redacted": shown}


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
