#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validation_report
short_description: Judge the checks of the rollback validation, one verdict per check with its reason
version_added: 0.3.0
description:
  - The last step of C(playbooks/validate.yml) (the role C(hybrid_routing), entry point C(validate)). The checks are
    the acting modules run in check mode; this reads their results and says, per check, PASS or FAIL and why -
    the run's inputs, the token and the API, the health endpoint, CloudWatch, the notification channels, a release
    to go back to, the lock, the approvers, and that every level has its roles, target, runbook section and drill.
  - Reports the last successful drill per level and the drills overdue against the monthly schedule
    (M(matbakh.hybrid_routing.drill_info)), and, in staging, the drills the validation ran.
  - Never fails itself; the C(passed) key of RV(report) is false when a check failed (an overdue drill is
    reported, not failed), and the playbook fails on it after printing the report.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Reads only, in any mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  environment:
    description: The environment validated.
    type: str
    required: true
  results:
    description:
      - The registered results of the checks, by name - C(start) (M(matbakh.hybrid_routing.rollback_start)),
        C(service) (M(matbakh.hybrid_routing.service_info) with health), C(release) and C(lock) (check mode),
        C(drills) (M(matbakh.hybrid_routing.drill_info)), C(records) (M(matbakh.hybrid_routing.audit_trail_info)
        of the environment's trail, with the runs of the drills the validation ran), and optionally C(drill_runs)
        (the same result, when the validation ran drills).
    type: dict
    required: true
  people:
    description: The inventory's C(hybrid_routing_people).
    type: raw
  targets:
    description: The targets per level (C(hybrid_routing_targets)).
    type: dict
    default: {}
  drills_run:
    description: How many drill runs the validation made (0 outside staging).
    type: int
    default: 0
  records:
    description: Where the environment's audit trail is (a file, or V(s3://) in the shared store).
    type: str
    default: ""
  production:
    description: The inventory is production - its records must be in the shared store (C(hybrid_routing_production)).
    type: bool
    default: false
"""

EXAMPLES = r"""
---
- name: Judge the checks
  matbakh.hybrid_routing.validation_report:
    environment: staging
    results:
      service: "{{ service }}"
      drills: "{{ drills }}"
    people: "{{ hybrid_routing_people }}"
"""

RETURN = r"""
report:
  description: The verdicts (C(checks) with C(check), C(passed), C(reason)), C(passed), C(failed),
    C(overdue_drills), C(lines) (one per check and per drill, as printed) and C(summary).
  returned: always
  type: dict
  sample:
    summary: "Validation of prod: 11 of 12 checks passed; FAILED: lock free."
    failed: [lock free]
    overdue_drills: [dr_drill]
"""
