#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_summary
short_description: The state of a fleet rolled back wave by wave
version_added: 0.3.0
description:
  - Judges a fleet of environments after one wave (one batch of the play's C(serial)) from each environment's
    report, with every environment's wave and outcome, each wave's outcome, whether the fleet stops here, what
    that leaves untouched, and one line for people.
  - The waves are cut as Ansible cuts the play's hosts for C(serial) (O(waves)); Ansible itself runs them and stops
    the play after a wave that failed beyond the tolerance (C(max_fail_percentage)). This module only says so.
  - The level playbooks run it once per wave, when the play has more than one environment.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Reads only its inputs and the play's host variables.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Computes only.
options:
  hosts:
    description: The play's environments in the order of its waves (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  current:
    description: The environments of the wave that is running now (C(ansible_play_batch)).
    type: list
    elements: str
    required: true
  waves:
    description:
      - The waves as the play's C(serial) takes them, a list of counts or percentages, the last one repeated.
        Unset, the whole fleet is one wave.
      - Anything else fails with a message that says how to give them.
    type: raw
  order:
    description:
      - The environments that go first (C(hybrid_routing_wave_order)), checked to be a list of O(hosts).
    type: raw
  fleet_id:
    description:
      - Names a fleet whose environments run in several jobs (C(hybrid_routing_fleet_id), an AWX fleet workflow's
        canary job and sliced job). Each job's summary is then published as the custom stat
        C(hybrid_routing_fleet_part_<awx_job_id>), which the fleet's summary job merges (O(parts)).
    type: str
    default: ""
  parts:
    description:
      - The summaries of a fleet's jobs (their C(hybrid_routing_fleet_part_*) artifacts). Given, the result is the
        whole fleet's, from all of them; a job that started after the jobs before it had all finished begins a new
        wave, and jobs that overlap (the slices of one sliced job) are one wave. O(current) and O(waves) are not used.
    type: list
    elements: dict
  tolerance_percent:
    description: The share of a wave that may fail before the fleet stops, in percent (C(max_fail_percentage)).
    type: float
    default: 0
notes:
  - Each environment's report is read from the result its C(rollback_report) step registered
    (C(__hybrid_routing_report), as the frame names it); an environment without one is untouched.
  - An action on the controller only, since it reads the play's host variables.
  - The result carries the fleet as the custom stat C(hybrid_routing_fleet), which AWX keeps as a job artifact beside
    each environment's C(hybrid_routing_rollback).
"""

EXAMPLES = r"""
---
- name: Say where the fleet stands after this wave
  matbakh.hybrid_routing.fleet_summary:
    hosts: "{{ ansible_play_hosts_all }}"
    current: "{{ ansible_play_batch }}"
    waves: "{{ hybrid_routing_waves | default(omit) }}"
  run_once: true
"""

RETURN = r"""
fleet:
  description: The fleet's state after the current wave.
  returned: always
  type: dict
  contains:
    wave:
      description: The number of the wave that ran now (from 1).
      type: int
    of_waves:
      description: How many waves the fleet has.
      type: int
    stopped:
      description: Whether more of this wave failed than the tolerance allows, so that no later wave runs.
      type: bool
    finished:
      description: Whether this was the fleet's last wave (the last one, or the one it stopped at).
      type: bool
    untouched:
      description: The environments of later waves that this run leaves as they are.
      type: list
      elements: str
    failed:
      description: The environments whose rollback failed.
      type: list
      elements: str
    waves:
      description: Each wave, its environments, those that failed, and its outcome (done, failed or untouched).
      type: list
      elements: dict
    environments:
      description: Per environment its wave, outcome, rollback id, time against its target and, when it failed, why.
      type: dict
    message:
      description: One line on the fleet for people.
      type: str
  sample:
    wave: 1
    of_waves: 3
    stopped: true
    finished: true
    untouched: [env02, env03]
    failed: [env01]
    message: "Fleet: wave 1 of 3 done, 1 of 3 environments run, 1 failed. STOPPED at wave 1 ..."
"""
