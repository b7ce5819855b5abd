#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_report
short_description: Judge a rollback run and write its report
version_added: 0.2.0
description:
  - Computes, once, the report of a run started by M(matbakh.hybrid_routing.rollback_start) - the time of every
    phase, what changed, the outcome (V(success), V(target_missed), V(failed), V(dry_run)) and the summary text
    that the console, the notifications and the AWX job artifact all carry.
  - Phase times come from when the steps of each phase finished; the elapsed time runs from the start of the run
    to this report (the lock is released by then; notifications are sent after it).
  - Publishes the report as the custom stat O(stats_name), which AWX keeps as a job artifact.
  - With O(release_lock), first gives back the rollback lock the run took (C(results.lock)), as
    M(matbakh.hybrid_routing.rollback_lock) with V(state=absent) does, so that the report says whether it was
    released (RV(unlock)). A lock that cannot be given back does not fail this step; the report says so, and it
    expires after its lease.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes.admin_api
attributes:
  check_mode:
    support: full
    details: >-
      Changes nothing in check mode (the lock is given back in check mode too); a run in check mode has the outcome
      V(dry_run).
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  run:
    description: >-
      The C(run) M(matbakh.hybrid_routing.rollback_start) returned; null (or an empty value, as ansible-core 2.18
      renders a null) when the run was refused before it started.
    type: raw
  level:
    description: Names a run that never started (O(run) null).
    type: int
    default: 1
  direction:
    description: Names a run that never started (O(run) null).
    type: str
    choices: [back, forward]
    default: back
  environment:
    description: Names a run that never started (O(run) null).
    type: str
    default: ""
  operator:
    description: Names a run that never started (O(run) null).
    type: str
    default: ""
  trigger:
    description: What set the run off - V(manual), or the trigger rules that fired (automatic rollback).
    type: str
    default: manual
  authorization:
    description: >-
      The authorization decision M(matbakh.hybrid_routing.rollback_start) returned; null (or empty) when none was
      made.
    type: raw
  people_named:
    description:
      - Whether the inventory names people. When it does not, M(matbakh.hybrid_routing.rollback_start) checks
        nothing and the report records that authorization was not enforced.
    type: bool
    default: true
  results:
    description:
      - What the steps returned, each a dict or null, by phase. C(preflight) is a list of the preflight's results
        or their C(finished_at) (the frame passes M(matbakh.hybrid_routing.rollback_start)'s); C(lock), C(snapshot),
        C(verify) and C(unlock) are the results of
        M(matbakh.hybrid_routing.rollback_lock), M(matbakh.hybrid_routing.state_snapshot) and
        M(matbakh.hybrid_routing.service_health); C(flags), C(routing),
        C(release) and C(forward) are the result facts of the roles C(flag_disable), C(traffic_mcp_only),
        C(release_revert) and C(rollforward).
      - A phase ends when the last of its results finished (their C(finished_at)); a bare number stands for a
        result's C(finished_at). Skipped steps and results older than the run (left by an earlier run in the same
        play) are ignored.
    type: dict
    default: {}
  failure:
    description: >-
      The step that failed, as C({task, msg, at}) with C(at) in epoch seconds, and C(busy) (the lease of the run
      holding the lock, when the lock refused this one: nobody is paged for it); null (or an empty value) when none
      did.
    type: raw
  nothing_to_do:
    description: A roll-forward that found no snapshot to restore.
    type: bool
    default: false
  reason:
    description: Why the run, as its requester said (free text; the audit trail redacts personal data in it).
    type: str
    default: ""
  drill:
    description: The run is a drill (the report and the audit record say so).
    type: bool
    default: false
  records:
    description:
      - Where the run's records go (the audit trail and the incident report, each a path or an s3:// location).
        The report, and so the custom stat AWX keeps, links to them as RV(report.records), with the audit record's
        id.
    type: dict
    default: {}
  release_lock:
    description:
      - Give back the lock the run took (C(results.lock), when it was taken) before judging the run, as the run's
        operator; the connection options are the admin API's (the frame sets them with C(module_defaults) for the
        group C(matbakh.hybrid_routing.admin_api)).
    type: bool
    default: false
  stats_name:
    description: Name of the custom stat the report is published under (per host).
    type: str
    default: hybrid_routing_rollback
"""

EXAMPLES = r"""
---
- name: Report the run
  matbakh.hybrid_routing.rollback_report:
    run: "{{ started.run }}"
    results:
      lock: "{{ lock_result }}"
      flags: "{{ flag_disable_result | default(none) }}"
  register: report

- name: Show it
  ansible.builtin.debug:
    msg: "{{ report.report.summary }}"
"""

RETURN = r"""
unlock:
  description: What giving the lock back returned (M(matbakh.hybrid_routing.rollback_lock)), failures included.
  returned: when O(release_lock) and the run took the lock
  type: dict
  sample: {"changed": true, "lock": {"held": false}, "finished_at": 1796040006.1}
report:
  description: The report.
  returned: success
  type: dict
  contains:
    outcome:
      description: V(success), V(target_missed), V(failed) or V(dry_run).
      type: str
      sample: success
    summary:
      description: The one text the console, the notifications and the artifact carry.
      type: str
      sample: "Level 1 rollback (feature flags) of prod-eu: done in 3.1s (target 120s). Changed: ..."
    started_at:
      description: When the run started (epoch seconds); a fleet's jobs are put in waves by it.
      type: float
      sample: 1796040012.345
    elapsed_seconds:
      description: From the start of the run to the report.
      type: float
      sample: 3.12
    target_seconds:
      description: The target of the level.
      type: float
      sample: 120.0
    phases:
      description: Seconds per phase, in order.
      type: dict
      sample: {"preflight": 0.4, "lock": 0.1, "snapshot": 0.2, "actions": 0.3, "verify": 0.2, "unlock": 0.1}
    changes:
      description: What changed (or would change), one phrase per kind.
      type: list
      elements: str
      sample: ["flags hybrid_routing=False"]
    failure:
      description: The failed step and its message, or null.
      type: dict
      sample: null
    level:
      description: The level.
      type: int
      sample: 1
    direction:
      description: V(back) or V(forward).
      type: str
      sample: back
    environment:
      description: The environment.
      type: str
      sample: prod-eu
    operator:
      description: Who ran it.
      type: str
      sample: alice
    rollback_id:
      description: The rollback id.
      type: str
      sample: rb-20261129T120000Z-1a2b
    dry_run:
      description: Whether it ran in check mode.
      type: bool
      sample: false
    trigger:
      description: What set the run off.
      type: str
      sample: manual
    recovery:
      description: Whether verification saw the service healthy (C(verified)), after how many seconds from the start
        (C(seconds)), and whether a poll saw it worse on the way (C(health_degraded)).
      type: dict
      sample: {"verified": true, "seconds": 6.5, "health_degraded": false}
    records:
      description: Where the run's audit record (its trail and record id) and its incident report are kept.
      type: dict
      sample: {"audit": "s3://matbakh-rollback-records/hybrid-routing/prod/audit/",
               "record_id": "rb-20261129T120000Z-1a2b:rollback",
               "report": "s3://matbakh-rollback-records/hybrid-routing/prod/reports/rb-20261129T120000Z-1a2b.md"}
    approver:
      description:
        - The approver as the messages and the incident report name it - confirmed by AWX, claimed and not
          verified, refused (and why), break glass, a trigger rule, or not enforced.
      type: str
      sample: cara (approved in AWX)
    authorization:
      description: Who authorized the run (O(matbakh.hybrid_routing.rollback_start#module:authorization)), or null.
      type: dict
      sample: {"enforced": false, "reason": "Authorization not enforced: the inventory names no people"}
    audit:
      description: The run's audit record (M(matbakh.hybrid_routing.audit_trail)) - who, level, trigger, each action
        with its state before and after, rollback id, timings and outcome.
      type: dict
      sample: {"event": "rollback", "rollback_id": "rb-20261129T120000Z-1a2b", "actions": []}
"""
