#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_record
short_description: Record a finished rollback run and end it with its outcome
version_added: 0.3.0
description:
  - The last step of every run of the frame role C(matbakh.hybrid_routing.hybrid_routing), on the controller, in
    one step where it used to take four (each a task per environment).
  - Appends the run's audit record (the C(audit) of O(report), with what the notifications did) to the trail at
    O(audit_path), as M(matbakh.hybrid_routing.audit_trail) does (free text with personal data is redacted).
  - Publishes the run's own metrics to CloudWatch when O(metrics), as M(matbakh.hybrid_routing.rollback_metrics)
    does; a failure to publish is reported, never fatal.
  - Writes the incident report to O(report_path), as M(matbakh.hybrid_routing.incident_report) does, naming the
    audit record (or why there is none) and the notifications.
  - Then ends the run - fails when the run failed (the outcome of O(report)), when the lock could not be given back
    (O(unlock)), or when the audit record or the incident report could not be written; its message (O(message),
    and what could not be recorded) is shown at every verbosity.
  - A record that cannot be written never stops the others.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes.aws_group
attributes:
  check_mode:
    support: full
    details: Writes and publishes nothing; the audit record and the report are built as they would be.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: >-
      The audit record of a run is appended once (its record id); the same incident report written twice changes
      nothing. The run's bookkeeping is never a change (it reports C(changed=false)).
options:
  report:
    description: The report M(matbakh.hybrid_routing.rollback_report) returned.
    type: dict
    required: true
  notified:
    description: What the run's notifications did (the role C(notify)'s C(notify_result)), or null.
    type: raw
  drill:
    description: The run is a drill.
    type: bool
    default: false
  audit_path:
    description: The audit trail, a file or the environment's chain in the shared store (V(s3://bucket/prefix/)).
    type: path
    required: true
  audit_log_group:
    description: Also ship the stored audit record to this CloudWatch Logs group.
    type: str
    default: ""
  report_path:
    description: Where to write the incident report (a file or V(s3://bucket/key)); empty writes none.
    type: path
    default: ""
  metrics:
    description:
      - Publish the run's metrics to CloudWatch. Only where an AWS region is known (O(region), E(AWS_REGION) or
        E(AWS_DEFAULT_REGION)); elsewhere there is no CloudWatch to publish to, and nothing is tried.
    type: bool
    default: false
  unlock:
    description: >-
      The result of giving the lock back (M(matbakh.hybrid_routing.rollback_lock)), or null when the run took none.
    type: raw
  message:
    description: What the run's last line says (its summary, and where a fleet stands).
    type: str
    default: ""
seealso:
  - module: matbakh.hybrid_routing.rollback_report
  - module: matbakh.hybrid_routing.audit_trail
  - module: matbakh.hybrid_routing.rollback_metrics
  - module: matbakh.hybrid_routing.incident_report
"""

EXAMPLES = r"""
---
- name: Record the run and report its outcome
  matbakh.hybrid_routing.rollback_record:
    report: "{{ hybrid_routing_result }}"
    notified: "{{ notify_result | default(none) }}"
    audit_path: /var/lib/matbakh/prod/audit.jsonl
    report_path: "/var/lib/matbakh/prod/reports/{{ hybrid_routing_result.rollback_id }}.md"
    message: "{{ hybrid_routing_result.summary }}"
"""

RETURN = r"""
msg:
  description: The run's last line, and what could not be recorded.
  returned: always
  type: str
  sample: "Level 1 rollback (feature flags) of prod-eu: done in 1.41s (target 120s). Changed: ..."
audit:
  description: >-
    Where the run's audit record is - its C(seq), C(record_id) and C(hash) as stored
    (M(matbakh.hybrid_routing.audit_trail)) - or null when it was not written. In check mode C(seq) and C(hash)
    are null (nothing is stored).
  returned: always
  type: dict
  sample: {"seq": 12, "record_id": "rb-20261129T120000Z-1a2b:rollback", "hash": "9c1d..."}
report_path:
  description: Where the incident report is (or would be), or null.
  returned: always
  type: str
  sample: /var/lib/matbakh/prod/reports/rb-20261129T120000Z-1a2b.md
metrics_published:
  description: Whether the run's metrics were published.
  returned: when O(metrics) and an AWS region is known
  type: bool
  sample: false
not_recorded:
  description: What could not be recorded, and why (the audit record, the incident report); the step then fails.
  returned: when something could not be recorded
  type: list
  elements: str
  sample: []
"""
