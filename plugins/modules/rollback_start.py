#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_start
short_description: Start a rollback run - check it before any write, then take its lock and snapshot
version_added: 0.2.0
description:
  - Names a rollback run (its id, label and target) and starts its clock, on the controller. The frame role
    C(matbakh.hybrid_routing.hybrid_routing) runs it first; the run it returns is what every later step and the
    report M(matbakh.hybrid_routing.rollback_report) refer to.
  - Checks what only the frame knows before anything is read or written. The target of the run is the key
    C(level1), C(level2), C(level3) or C(rollforward) of O(targets) (missing keys take the defaults 120, 300, 600
    and 600 s) and must be positive; O(lock_ttl_seconds) must cover it. Then who may run it (O(authorization)).
  - With O(preflight), then runs the preflight - each module the run will act with, in check mode, in this one step
    (RV(run.plan) says which, its C(checks)) - so that anything the run would be refused for is refused here, before any
    write. The first refusal fails the step, saying which module refused; its message names the option. The rules
    are the modules' own (M(matbakh.hybrid_routing.feature_flags), M(matbakh.hybrid_routing.routing_mode),
    M(matbakh.hybrid_routing.state_snapshot), M(matbakh.hybrid_routing.release),
    M(matbakh.hybrid_routing.lambda_alias), M(matbakh.hybrid_routing.rollback_lock)); they get the connection
    options of this task, which the frame gives with C(module_defaults) (action groups
    C(matbakh.hybrid_routing.admin_api) and C(matbakh.hybrid_routing.aws)).
  - Then, nothing refused, takes the rollback lock for the run (M(matbakh.hybrid_routing.rollback_lock), its first
    write, RV(lock)) and, rolling back, the snapshot a roll-forward restores
    (M(matbakh.hybrid_routing.state_snapshot), RV(snapshot)). A roll-forward with nothing stored to restore takes
    only its own stale lock (a killed run's), to give it back. Everything a run does before its actions is this one
    step - a task per environment for each would cost a fleet most of its CPU.
  - A lock taken meanwhile by someone else fails the step with nothing written; a snapshot that cannot be taken
    fails it with the lock held, which the frame's report (M(matbakh.hybrid_routing.rollback_report)) gives back.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes.controller_only  # first: its action details win over the generic ones
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.aws
attributes:
  check_mode:
    support: full
    details: >-
      Writes nothing in check mode (the lock and the snapshot are planned, not taken); the preflight's checks
      always run in check mode; the run is marked as a dry run.
  diff_mode:
    support: full
    details: The snapshot's, as M(matbakh.hybrid_routing.state_snapshot) shows it.
  idempotent:
    support: full
    details: >-
      Each call names a new run; it reports a change only when it stores a new snapshot (the lock is the run's
      bookkeeping, never a change), so a second run of a level for the same incident reports none.
  action_group:
    description: >-
      Use C(group/matbakh.hybrid_routing.admin_api) and C(group/matbakh.hybrid_routing.aws) in C(module_defaults) to
      set the connection and AWS options once (the frame does). Its O(rollback_id) is the run's own id, whatever is
      set.
    support: full
    membership:
      - matbakh.hybrid_routing.admin_api
      - matbakh.hybrid_routing.aws
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
      - Who may run the level, decided before anything is read or written; a refusal fails the task and still
        returns RV(run). The seed's matrix - on call may run Level 1, Level 2 needs an engineering manager, Level 3
        the CTO, and a roll-forward an engineering manager. The requester's own role suffices for Levels 1 and 2
        (and a roll-forward); otherwise the approver must hold the role. Level 3 always needs an approver who is
        not the requester.
      - Break glass - on call may run Level 2 without an approver when C(break_glass_reason) is given (free text,
        refused when it holds personal data); the decision is marked, and a manager must confirm it afterwards.
      - An automatic rollback (C(automatic)) is authorized by the trigger rules that fired, up to C(ceiling).
      - Without C(people) and not C(automatic) nothing is checked (the report then says authorization was not
        enforced).
      - On the command line this guards against mistakes, not against someone who can change the inventory or the
        extra variables; AWX enforces it (surveys and credentials decide what a user may set).
    type: dict
    default: {}
    suboptions:
      people:
        description: >-
          Person ids and their roles (V(on_call), V(engineering_manager), V(cto)), for example
          C({alice: {roles: [on_call]}, mark: {roles: [engineering_manager]}}).
        type: dict
        default: {}
      requester:
        description: Who asks for the run (an id of O(authorization.people)); empty means the operator.
        type: str
        default: ""
      approver:
        description: Who approves it (an id of O(authorization.people)).
        type: str
        default: ""
      break_glass_reason:
        description: Why on call runs Level 2 without an approval (no personal data).
        type: str
        default: ""
      automatic:
        description: The run is an automatic rollback, authorized by the rules in O(authorization.trigger).
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
  release_strategy:
    description: How Level 3 reverts the release (the frame's C(hybrid_routing_release_strategy)); see RV(run.plan).
    type: str
    choices: [admin_api, aws_lambda_alias]
    default: admin_api
  verify_timeout_seconds:
    description:
      - How long verification waits for the service to report healthy (the frame's
        C(hybrid_routing_verify_timeout_seconds)); V(0) or less waits until the run's deadline, and at least 30
        seconds. See RV(run.plan).
    type: float
    default: 0
  receivers:
    description:
      - The notification receivers of the run (the options of M(matbakh.hybrid_routing.rollback_notify) that name
        them), to know which channels are configured (RV(run.notify)); it carries credentials and is never returned.
    type: dict
    default: {}
  preflight:
    description:
      - The inputs of the preflight's checks (the frame's inventory values); omitted, no check runs (the run is only
        named and authorized).
    type: dict
    suboptions:
      flags:
        description: The hybrid routing feature flags Level 1 turns off (check C(flags)).
        type: list
        elements: str
        default: []
      snapshot_path:
        description: The run's snapshot file (checks C(stored) and C(snapshot)).
        type: path
        default: ""
      snapshot_force:
        description: Replace a kept snapshot of an earlier incident (check C(snapshot)).
        type: bool
        default: false
      snapshot_max_age_seconds:
        description: How old a kept snapshot may be and still be reused (check C(snapshot)).
        type: float
        default: 0
      lambda_functions:
        description: The Lambda functions Level 3 points back (checks C(snapshot) and C(lambda)).
        type: list
        elements: str
        default: []
      lambda_alias:
        description: Their alias (checks C(snapshot) and C(lambda)).
        type: str
        default: live
      release_target:
        description: >-
          The release (or Lambda version) to go back to; empty means the one before (checks C(release),
          C(lambda)).
        type: str
        default: ""
      rollforward_force:
        description: Restore the recorded release even when another one was deployed since (check C(release)).
        type: bool
        default: false
      release_wait_timeout:
        description: How long the release change may take (checks C(release), C(lambda)).
        type: float
        default: 420
      routing_wait_timeout:
        description: How long the routing change may take to converge (check C(routing)).
        type: float
        default: 120
      lock_takeover:
        description: Take over a rollback lock another holder left behind (check C(lock)).
        type: bool
        default: false
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
preflight:
  description:
    - What the preflight's checks found, when O(preflight) was given (also when a check refused the run).
  returned: when O(preflight) is given and the run was not refused before it
  type: dict
  contains:
    checks:
      description:
        - Each check that ran, by name (C(flags), C(stored), C(snapshot), C(release), C(lambda), C(routing),
          C(lock)), with what the steps after it read - C(changes) (flags), C(snapshot) (the stored snapshot of a
          roll-forward, or the one Level 3 would take), C(took_over_own) (lock), C(finished_at). A check that does
          not apply to the run is C(skipped=true).
      type: dict
      sample: {"flags": {"changed": true, "changes": {"hybrid_routing": false}, "finished_at": 1796040000.2},
               "routing": {"changed": true, "finished_at": 1796040000.3},
               "lock": {"changed": true, "finished_at": 1796040000.4}}
    nothing_to_do:
      description: A roll-forward that found no stored snapshot to restore.
      type: bool
      sample: false
    finished_at:
      description: Epoch seconds when the preflight's checks ended.
      type: float
      sample: 1796040000.4
    busy:
      description:
        - The lease of the run that holds the rollback lock, when the lock refused this run (another rollback of the
          environment is under way). The frame passes it to the report as C(failure.busy), and
          M(matbakh.hybrid_routing.rollback_notify) pages nobody for such a run.
      returned: when the lock refused the run
      type: dict
      sample: {"holder": "alice", "reason": "Level 3 rollback rb-20261207T172933Z-a1ae",
               "rollback_id": "rb-20261207T172933Z-a1ae", "acquired_at": "2026-12-07T17:29:33Z"}
lock:
  description:
    - What taking the rollback lock returned (M(matbakh.hybrid_routing.rollback_lock)), or null when the run did
      not take it (refused before, or a roll-forward with nothing to do and no stale lock of its own).
  returned: when the preflight ran (O(preflight) given, the run not refused before it)
  type: dict
  sample: {"changed": true, "lock": {"held": true, "holder": "alice"}, "finished_at": 1796040000.5}
snapshot:
  description:
    - What taking the snapshot returned (M(matbakh.hybrid_routing.state_snapshot)), or null (a roll-forward, or a
      run that did not get that far).
  returned: when the preflight ran (O(preflight) given, the run not refused before it)
  type: dict
  sample: {"changed": true, "path": "/var/lib/matbakh/prod-eu/snapshot.json", "snapshot": {"environment": "prod-eu"}}
refused_inputs:
  description:
    - The names the run may not take (a name the frame or the playbook sets itself, given with C(-e); an action
      role's input; a private name). The task fails before anything is read or written, and the frame sends no
      notification for the run.
  returned: when the run is refused for them
  type: list
  elements: str
  sample: [release_revert_strategy]
authorization:
  description:
    - The decision of O(authorization). A refused run returns it too (V(refused) true, V(reason) says who and why),
      so that its audit record and its messages name the refusal.
  returned: when O(authorization) names people or the run is automatic
  type: dict
  contains:
    refused:
      description: Whether the run was refused (then the task fails, before any write).
      type: bool
      returned: when refused
    approval:
      description:
        - Who approved, and whether AWX confirmed it. V(source=awx), V(verified=true) - the approver AWX recorded on
          the approval node of the workflow that launched the job (the survey's name is kept in V(claimed)). That
          approver is the one checked against the people. V(source=claimed), V(verified=false) - the run's
          approver as given (C(hybrid_routing_approver)), with V(why) it could not be confirmed.
        - Read through AWX's API with the controller credential of the job template (C(CONTROLLER_HOST) and
          C(CONTROLLER_OAUTH_TOKEN), or C(CONTROLLER_USERNAME) and C(CONTROLLER_PASSWORD)); bounded to 5 s per
          read, and a run it cannot confirm still goes on, marked as claimed.
      type: dict
      returned: when the run is not automatic
      sample: {"source": "awx", "verified": true, "approved_by": "cara", "approval_id": 42, "workflow_job_id": 41}
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
    plan:
      description:
        - What the frame runs, decided here once. C(actions) - the action roles in order (Level 1
          C(flag_disable); Level 2 also C(traffic_mcp_only); Level 3 also C(release_revert), with C(notify) right
          after the flags where PagerDuty, a status page or the hotline is configured; the roll-forward
          C(rollforward)). C(release) - the release strategy whose checks and snapshot apply (Level 3), else null.
        - C(checks) - the preflight's checks, the acting modules in check mode (C(flags), C(routing), C(snapshot),
          C(release) or C(lambda), C(lock); a roll-forward C(stored), C(release), C(lambda) where its snapshot
          recorded aliases, C(routing), C(lock)).
        - C(verify) - the wait for health, as M(matbakh.hybrid_routing.service_health) takes it, C(wait_timeout)
          (seconds) and C(deadline) (epoch seconds, or null when the configured seconds apply).
      type: dict
      sample: {"actions": ["flag_disable", "traffic_mcp_only"], "release": null, "checks": ["flags", "routing", "lock"],
               "verify": {"wait_timeout": 30.0, "deadline": 1796040300.0}}
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
