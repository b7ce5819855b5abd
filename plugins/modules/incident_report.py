#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: incident_report
short_description: Write the Markdown incident report of a rollback run
version_added: 0.3.0
description:
  - Renders the collection's template (C(roles/hybrid_routing/templates/incident_report.md.j2)) or O(template) with
    the run's report - summary, timeline, phases against the target, state before and after, notifications, the
    audit record, the seed's follow-ups with due dates - and writes it to O(path) (mode 0600, its directory 0700).
  - O(path) may be in the shared store, V(s3://bucket/key.md) (the AWS options apply); the run's log
    (callback C(matbakh.hybrid_routing.run_log), when enabled) is written beside it as C(<key>.log), as it stands
    when the report is written.
  - In check mode nothing is written; the result says what would be.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.aws
attributes:
  check_mode:
    support: full
    details: Renders the report and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: The same report written twice changes nothing the second time.
options:
  path:
    description: Where to write the report, a file or V(s3://bucket/key).
    type: path
    required: true
  report:
    description: The report M(matbakh.hybrid_routing.rollback_report) returned.
    type: dict
    required: true
  drill:
    description: The run is a drill (the title says C([DRILL])).
    type: bool
    default: false
  audit:
    description: The audit record as stored (the C(record) M(matbakh.hybrid_routing.audit_trail) returned), or null.
    type: raw
  audit_path:
    description: The audit trail the record is in.
    type: str
    default: ""
  audit_error:
    description: Why no audit record was written, if none was.
    type: str
    default: ""
  notify:
    description: What the notifications did (the role C(notify)'s C(notify_result)), or null.
    type: raw
  template:
    description: A Jinja2 template to render instead of the collection's (same variables).
    type: path
seealso:
  - module: matbakh.hybrid_routing.rollback_report
"""

EXAMPLES = r"""
---
- name: Write the incident report
  matbakh.hybrid_routing.incident_report:
    path: "/var/lib/matbakh/prod/reports/{{ hybrid_routing_result.rollback_id }}.md"
    report: "{{ hybrid_routing_result }}"
"""

RETURN = r"""
path:
  description: Where the report is (or would be).
  returned: always
  type: str
  sample: /var/lib/matbakh/prod/reports/rb-20261129T120000Z-1a2b.md
content:
  description: The report, in check mode only.
  returned: in check mode
  type: str
  sample: "# Incident report: prod, Level 2 rollback ..."
"""
