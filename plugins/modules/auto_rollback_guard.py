#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: auto_rollback_guard
short_description: The circuit breaker of automatic rollbacks, kept in DynamoDB where every controller sees it
version_added: 0.3.0
description:
  - Before an automatic rollback acts, takes a slot, refused while the last automatic rollback of the environment
    is younger than O(cooldown_seconds), or when O(max_rollbacks) of them happened within O(window_seconds).
  - The record is one DynamoDB item per environment, written with a conditional update, so two controllers
    (AWX, Event-Driven Ansible, a laptop) evaluating at once cannot both pass. The table is created on first use
    (on-demand capacity, key C(environment)).
  - In check mode the guard is only read; the result says whether a slot would be given.
  - With O(state=absent), gives back the slot taken at O(taken_at), because the automatic rollback it was taken
    for failed before it changed anything (the admin API down, say), so it must not hold the next attempt back for
    a whole cooldown while the incident goes on.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.aws_group
attributes:
  check_mode:
    support: full
    details: Reads the record and says whether a slot would be given; writes nothing.
  diff_mode:
    support: full
    details: Shows the recorded rollbacks before and after.
  idempotent:
    support: none
    details: Each slot taken is one automatic rollback; the cooldown refuses a second one right after.
options:
  environment:
    description: The environment whose automatic rollbacks are counted.
    type: str
    required: true
  table:
    description: DynamoDB table of the records.
    type: str
    default: hybrid-routing-auto-rollback
  cooldown_seconds:
    description: Seconds after an automatic rollback during which no other may act.
    type: float
    default: 1800
  max_rollbacks:
    description: Automatic rollbacks allowed within O(window_seconds); then the breaker stays open until one ages out.
    type: int
    default: 3
  window_seconds:
    description: The window O(max_rollbacks) counts in.
    type: float
    default: 86400
  level:
    description: The level the automatic rollback runs (recorded).
    type: int
    required: true
  trigger:
    description: The rules that fired (recorded).
    type: str
    default: ""
  state:
    description:
      - V(present) takes a slot; V(absent) gives back the one taken at O(taken_at) (nothing to do when it is gone).
    type: str
    choices: [present, absent]
    default: present
  taken_at:
    description: With O(state=absent), the C(guard.taken_at) of the slot to give back.
    type: float
seealso:
  - module: matbakh.hybrid_routing.triggers_info
"""

EXAMPLES = r"""
---
- name: Take a slot of the circuit breaker
  matbakh.hybrid_routing.auto_rollback_guard:
    environment: prod
    level: 2
    trigger: error_rate
    region: eu-central-1
  register: guard

- name: Give it back, the rollback having changed nothing
  matbakh.hybrid_routing.auto_rollback_guard:
    environment: prod
    level: 2
    state: absent
    taken_at: "{{ guard.guard.taken_at }}"
    region: eu-central-1
"""

RETURN = r"""
guard:
  description: The verdict.
  returned: always
  type: dict
  contains:
    allowed:
      description: A slot was given (in check mode, would be).
      type: bool
    reason:
      description: Why, in words.
      type: str
    runs_in_window:
      description: Automatic rollbacks recorded in the window, before this one.
      type: int
    last_at:
      description: When the last one was recorded (epoch seconds), or null.
      type: float
    cooldown_remaining_seconds:
      description: Seconds until the cooldown ends (0 when it has).
      type: float
    taken_at:
      description: When the slot this run took was recorded (epoch seconds); what O(taken_at) gives back.
      type: float
      returned: when a slot was taken
  sample: {"allowed": false, "reason": "cooldown: ...", "runs_in_window": 1, "last_at": 1798012000.0,
           "cooldown_remaining_seconds": 1210.0}
finished_at:
  description: When the module finished, in epoch seconds.
  returned: always
  type: float
  sample: 1798012345.123
"""

import time
from decimal import Decimal
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSAccess, AWSError, AWSFrame, call
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._escalation import guard_verdict
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module

CONFLICT_RETRIES = 5


class Guard:
    def __init__(self, frame: AWSFrame):
        self.frame = frame
        self.params = frame.params
        self.client = AWSAccess(self.params, "dynamodb").client
        self.table = self.params["table"]

    def _table_exists(self) -> bool:
        try:
            call(f"Reading table {self.table}", self.client.describe_table, TableName=self.table)
        except AWSError as exc:
            if "ResourceNotFoundException" in str(exc):
                return False
            raise
        return True

    def _create_table(self) -> None:
        call(f"Creating table {self.table}", self.client.create_table, TableName=self.table,
             AttributeDefinitions=[{"AttributeName": "environment", "AttributeType": "S"}],
             KeySchema=[{"AttributeName": "environment", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        waiter = self.client.get_waiter("table_exists")
        waiter.wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    def _read(self) -> tuple[list[dict[str, Any]], int | None]:
        item = call("Reading the automatic rollback record", self.client.get_item, TableName=self.table,
                    Key={"environment": {"S": self.params["environment"]}}, ConsistentRead=True).get("Item")
        if not item:
            return [], None
        runs = [{"at": float(r["M"]["at"]["N"]), "level": int(r["M"]["level"]["N"]), "trigger": r["M"]["trigger"]["S"]}
                for r in item.get("runs", {}).get("L", [])]
        return runs, int(item["version"]["N"])

    def _write(self, runs: list[dict[str, Any]], version: int | None) -> bool:
        """Store runs if nobody wrote since we read (version); False when someone did."""
        item = {
            "environment": {"S": self.params["environment"]},
            "version": {"N": str((version or 0) + 1)},
            "runs": {"L": [{"M": {"at": {"N": str(Decimal(str(r["at"])))}, "level": {"N": str(r["level"])},
                                  "trigger": {"S": r["trigger"]}}} for r in runs]},
        }
        condition = "attribute_not_exists(environment)" if version is None else "version = :seen"
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
        if version is not None:
            kwargs["ExpressionAttributeValues"] = {":seen": {"N": str(version)}}
        try:
            call("Recording the automatic rollback", self.client.put_item, **kwargs)
        except AWSError as exc:
            if "ConditionalCheckFailedException" in str(exc):
                return False
            raise
        return True

    def release(self) -> dict[str, Any]:
        """Remove the slot recorded at taken_at (a conditional write, retried when another controller wrote)."""
        params = self.params
        if params["taken_at"] is None:
            self.frame.fail("taken_at is required with state=absent: the guard.taken_at of the slot to give back.")
        if not self._table_exists():
            return {"guard": {"released": False}}
        for _attempt in range(CONFLICT_RETRIES):
            runs, version = self._read()
            kept = [r for r in runs if abs(r["at"] - params["taken_at"]) > 0.0005]
            if len(kept) == len(runs):
                return {"guard": {"released": False}}
            if self.frame.check_mode or self._write(kept, version):
                result: dict[str, Any] = {"changed": True, "guard": {"released": True}}
                if self.frame.diff_mode:
                    result["diff"] = {"before": {"runs": runs}, "after": {"runs": kept}}
                return result
        self.frame.fail(f"The automatic rollback record of {params['environment']} changed under us "
                        f"{CONFLICT_RETRIES} times: another controller is acting; the slot was not given back.")

    def run(self) -> dict[str, Any]:
        params = self.params
        if params["state"] == "absent":
            return self.release()
        exists = self._table_exists()
        for _attempt in range(CONFLICT_RETRIES):
            runs, version = self._read() if exists else ([], None)
            now = time.time()
            verdict = guard_verdict(runs, now, params["cooldown_seconds"], params["max_rollbacks"],
                                    params["window_seconds"])
            if not verdict["allowed"] or self.frame.check_mode:
                return {"guard": verdict}
            if not exists:
                self._create_table()
                exists = True
            kept = [r for r in runs if now - r["at"] < params["window_seconds"]]
            recorded = [*kept, {"at": round(now, 3), "level": params["level"], "trigger": params["trigger"]}]
            if self._write(recorded, version):
                result: dict[str, Any] = {"changed": True, "guard": dict(verdict, taken_at=round(now, 3))}
                if self.frame.diff_mode:
                    result["diff"] = {"before": {"runs": runs}, "after": {"runs": recorded}}
                return result
        self.frame.fail(f"The automatic rollback record of {params['environment']} changed under us "
                        f"{CONFLICT_RETRIES} times: another controller is acting; nothing was done.")


ARGUMENT_SPEC: dict[str, Any] = dict(
    environment=dict(type="str", required=True),
    table=dict(type="str", default="hybrid-routing-auto-rollback"),
    cooldown_seconds=dict(type="float", default=1800),
    max_rollbacks=dict(type="int", default=3),
    window_seconds=dict(type="float", default=86400),
    level=dict(type="int", required=True),
    trigger=dict(type="str", default=""),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    taken_at=dict(type="float"),
)
FRAME = AWSFrame


def work(frame: AWSFrame) -> dict[str, Any]:
    return Guard(frame).run()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
