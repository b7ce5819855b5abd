#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_start
short_description: Start a rollback run of the hybrid routing frame
version_added: 0.2.0
description:
  - Names a rollback run (its id, label and target) and starts its clock, on the controller. The frame role
    C(matbakh.hybrid_routing.hybrid_routing) runs it first; the run it returns is what every later step and the
    report M(matbakh.hybrid_routing.rollback_report) refer to.
  - Checks what only the frame knows before anything is read or written. The target of the run is the key
    C(level1), C(level2), C(level3) or C(rollforward) of O(targets) (missing keys take the defaults 120, 300, 600
    and 600 s) and must be positive; O(lock_ttl_seconds) must cover it. Everything else is checked by the module
    that acts.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Changes nothing in either mode; the run is marked as a dry run in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Reports no change; each call names a new run.
options:
  level:
    description: Rollback level.
    type: int
    choices: [1, 2, 3]
    default: 1
  direction:
    description: V(back) rolls back to O(level); V(forward) restores the pre-incident state.
    type: str
    choices: [back, forward]
    default: back
  environment:
    description: Environment name for messages and the snapshot; empty means the inventory host name.
    type: str
    default: ""
  targets:
    description: >-
      Target duration in seconds per C(level1), C(level2), C(level3) and C(rollforward); merged over the
      defaults.
    type: dict
    default: {}
  operator:
    description: Who runs the rollback; empty means the AWX user (C(awx_user_name)), else the controller's user.
    type: str
    default: ""
  lock_ttl_seconds:
    description: Lifetime of the rollback lease the run will take; it must cover the target.
    type: float
    default: 900
  authorization:
    description:
      - Who may run the level (the options of M(matbakh.hybrid_routing.rollback_authorize) - C(people), C(requester)
        (default the operator), C(approver), C(break_glass_reason), C(automatic), C(trigger), C(ceiling)), decided
        before anything is read or written; a refusal fails the task and still returns RV(run).
      - Without C(people) and not C(automatic) nothing is checked (the report then says authorization was not
        enforced).
    type: dict
    default: {}
  receivers:
    description:
      - The notification receivers of the run (the options of M(matbakh.hybrid_routing.rollback_notify) that name
        them), to know which channels are configured (RV(run.notify)); it carries credentials and is never returned.
    type: dict
    default: {}
"""

EXAMPLES = r"""
---
- name: Start a Level 2 run
  matbakh.hybrid_routing.rollback_start:
    level: 2
    targets: "{{ hybrid_routing_targets }}"
  register: run

- name: Show its id and target
  ansible.builtin.debug:
    msg: "{{ run.run.id }} must finish within {{ run.run.target_seconds }}s"
"""

RETURN = r"""
authorization:
  description: The decision of O(authorization) (see M(matbakh.hybrid_routing.rollback_authorize)).
  returned: when O(authorization) names people or the run is automatic
  type: dict
  sample: {"requester": "alice", "approver": "mark", "authorized_by": "mark", "enforced": true}
run:
  description: The run every later step refers to.
  returned: success
  type: dict
  contains:
    id:
      description: The rollback id (also sent to the service as C(X-Rollback-Id)).
      type: str
      sample: rb-20261129T120000Z-1a2b
    level:
      description: The level.
      type: int
      sample: 2
    direction:
      description: V(back) or V(forward).
      type: str
      sample: back
    label:
      description: How messages name the run.
      type: str
      sample: Level 2 rollback (MCP-only traffic)
    environment:
      description: The environment.
      type: str
      sample: prod-eu
    operator:
      description: Who runs it.
      type: str
      sample: alice
    target_seconds:
      description: The target the run is judged against.
      type: float
      sample: 300.0
    notify:
      description: The notification channels configured for the run (the frame skips notifying when none).
      type: list
      elements: str
      sample: [slack, pagerduty]
    deadline:
      description: Epoch seconds by which the target is met.
      type: float
      sample: 1796040300.0
    dry_run:
      description: Whether the play runs in check mode.
      type: bool
      sample: false
    started_at:
      description: Epoch seconds when the run started.
      type: float
      sample: 1796040000.0
"""
