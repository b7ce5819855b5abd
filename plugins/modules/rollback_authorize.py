#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_authorize
short_description: Decide whether a rollback run is authorized, before anything is written
version_added: 0.3.0
description:
  - The seed's matrix - on-call may run Level 1, Level 2 needs an engineering manager, Level 3 the CTO, and a
    roll-forward an engineering manager. The requester's own role suffices for Levels 1 and 2 (and a
    roll-forward); otherwise the approver must hold the role. Level 3 always needs an approver who is not the
    requester.
  - Break glass - on call may run Level 2 without an approver when O(break_glass_reason) is given (free text,
    refused when it holds personal data); the decision is marked, and a manager must confirm it afterwards.
  - An automatic rollback (O(automatic)) is authorized by the trigger rules that fired, up to O(ceiling).
  - Without O(people) authorization is not enforced, and the decision says so.
  - On the command line this guards against mistakes, not against someone who can change the inventory or the extra
    variables; AWX enforces it (surveys and credentials decide what a user may set).
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Decides the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  people:
    description: >-
      Person ids and their roles (V(on_call), V(engineering_manager), V(cto)), for example
      C({alice: {roles: [on_call]}, mark: {roles: [engineering_manager]}}).
    type: dict
  level:
    description: The level of the run.
    type: int
    required: true
    choices: [1, 2, 3]
  direction:
    description: V(back) or V(forward).
    type: str
    default: back
    choices: [back, forward]
  requester:
    description: Who asks for the run (an id of O(people)).
    type: str
    default: ""
  approver:
    description: Who approves it (an id of O(people)).
    type: str
    default: ""
  break_glass_reason:
    description: Why on call runs Level 2 without an approval (no personal data).
    type: str
    default: ""
  automatic:
    description: The run is an automatic rollback, authorized by the rules in O(trigger).
    type: bool
    default: false
  trigger:
    description: The trigger rules that fired (automatic runs).
    type: str
    default: ""
  ceiling:
    description: The highest level an automatic rollback may run.
    type: int
    default: 2
seealso:
  - module: matbakh.hybrid_routing.audit_trail
"""

EXAMPLES = r"""
---
- name: Who may run this level?
  matbakh.hybrid_routing.rollback_authorize:
    people: {alice: {roles: [on_call]}, mark: {roles: [engineering_manager]}, cara: {roles: [cto]}}
    level: 2
    requester: alice
    approver: mark
  register: authorization
"""

RETURN = r"""
authorization:
  description: The decision.
  returned: success
  type: dict
  contains:
    enforced:
      description: Whether the inventory names people (false - not enforced).
      type: bool
    authorized_by:
      description: Who (or which rules) authorized the run; null when not enforced.
      type: str
    required_role:
      description: The role the level needs.
      type: str
    requester:
      description: The requester.
      type: str
    approver:
      description: The approver, or null.
      type: str
    break_glass:
      description: Whether it was a break-glass run.
      type: bool
    automatic:
      description: Whether it was an automatic rollback.
      type: bool
    reason:
      description: The decision in words.
      type: str
  sample: {"enforced": true, "authorized_by": "mark", "required_role": "engineering_manager",
           "requester": "alice", "approver": "mark", "break_glass": false, "automatic": false,
           "reason": "Level 2 requested by alice, approved by mark (engineering_manager)."}
"""
