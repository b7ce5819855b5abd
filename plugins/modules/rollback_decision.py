#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_decision
short_description: Decide the next step of an automatic rollback, and report its impact
version_added: 0.3.0
description:
  - The escalation ladder of C(playbooks/auto_rollback.yml), from the evaluations
    M(matbakh.hybrid_routing.triggers_info) returned. Nothing fires - V(none), or V(recovered) once a level ran.
    Something fires - V(run) the level it calls for; after a level ran and rules still fire, at least the next
    level. Above O(ceiling), or past Level 3 - V(needs_person). Rules that cannot be decided (inconclusive,
    unreadable) never act - V(hold) when nothing fires. A dry run stops after the first level - V(planned).
  - Also reports the service's error rate, emergency latency and availability before and after, and the
    user-impact duration (from the first breaching period to the verified recovery); publishes that report as the
    custom stat O(stats_name) (an AWX job artifact).
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Changes nothing in either mode; in check mode the ladder stops after the first level (V(planned)).
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  before:
    description: The evaluation before any action (the C(evaluation) M(matbakh.hybrid_routing.triggers_info) returned).
    type: dict
    required: true
  latest:
    description: The latest evaluation; omitted means O(before).
    type: dict
  ran:
    description: The levels this automatic rollback has run so far, in order.
    type: list
    elements: int
    default: []
  ceiling:
    description: The highest level an automatic rollback may run; above it, a person decides.
    type: int
    default: 2
    choices: [1, 2, 3]
  stats_name:
    description: Name of the custom stat the report is published under (per host).
    type: str
    default: hybrid_routing_auto_rollback
seealso:
  - module: matbakh.hybrid_routing.triggers_info
  - module: matbakh.hybrid_routing.auto_rollback_guard
"""

EXAMPLES = r"""
---
- name: Decide the first step
  matbakh.hybrid_routing.rollback_decision:
    before: "{{ triggers.evaluation }}"
    ceiling: 2
  register: decision
"""

RETURN = r"""
refused_inputs:
  description:
    - The names the automatic rollback may not take, refused as the levels refuse them (see the return value
      C(refused_inputs) of M(matbakh.hybrid_routing.rollback_start)); nothing is read or written.
  returned: when the run is refused for them
  type: list
  elements: str
  sample: [release_revert_strategy]
decision:
  description: The next step.
  returned: always
  type: dict
  contains:
    action:
      description: V(run), V(none), V(hold), V(recovered), V(needs_person) or V(planned).
      type: str
    level:
      description: The level to run (V(run)), that ran last (V(recovered), V(planned)), or a person must run.
      type: int
    trigger:
      description: The rules that fire, or null.
      type: str
    reason:
      description: Why, in words.
      type: str
  sample: {"action": "run", "level": 2, "trigger": "error_rate", "reason": "error_rate call for Level 2: run Level 2."}
report:
  description: The impact report (before, after, levels run, user-impact seconds, summary).
  returned: always
  type: dict
  sample: {"levels_run": [1], "user_impact_seconds": 95.0, "before": {"error_rate_percent": 45.0},
           "after": {"error_rate_percent": 0.4}, "summary": "Automatic rollback of prod: Level 1; ..."}
"""
