#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: triggers_info
short_description: Evaluate the rollback trigger rules of an environment against CloudWatch
version_added: 0.3.0
description:
  - Reads, in one C(GetMetricData) call per 500 queries (one call per environment with the default rules), the
    metrics every trigger rule names, and judges each rule as a CloudWatch alarm would (M out of N periods,
    missing data as the rule says).
  - Each rule comes back V(ok), V(breaching), V(inconclusive) (the missing data could decide either way) or
    V(error) (the metric could not be read; never a pass), with the datapoints that decided it. The recommended
    level is the highest level among the breaching rules; 0 when none breaches.
  - With O(wait_until_clear), polls until no rule breaches and none is in error, within O(wait_timeout); this is the
    metric side of verifying a recovery.
  - The rule schema and the defaults (the seed's triggers) are in the collection's C(docs/metrics.md).
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.aws_group
  - matbakh.hybrid_routing.attributes.READ_ONLY
options:
  environment:
    description: The environment, as the value of the C(Environment) dimension of every metric.
    type: str
    required: true
  rules:
    description:
      - The trigger rules; omitted or null means the collection's defaults (C(docs/metrics.md)).
      - A malformed rule fails the task with a message naming the rule and the key, before anything is read.
    type: list
    elements: dict
  wait_until_clear:
    description: Poll until no rule breaches and none is in error; fail when O(wait_timeout) runs out first.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds O(wait_until_clear) may wait.
      - V(0) waits as long as the rules firing at the first look need to show a recovery, and no longer - (N - M + 2)
        periods of the slowest of them (N evaluation periods, M datapoints to alarm), so that a level that did not
        end the incident is known as soon as the metrics can tell.
    type: float
    default: 0
  interval:
    description: Seconds between two evaluations while waiting.
    type: float
    default: 10
seealso:
  - module: matbakh.hybrid_routing.rollback_metrics
"""

EXAMPLES = r"""
---
- name: Which level do the metrics call for?
  matbakh.hybrid_routing.triggers_info:
    environment: prod
    region: eu-central-1
  register: triggers

- name: Wait until the metrics say the service recovered
  matbakh.hybrid_routing.triggers_info:
    environment: prod
    rules: "{{ hybrid_routing_trigger_rules }}"
    wait_until_clear: true
    wait_timeout: 600
"""

RETURN = r"""
evaluation:
  description: The verdict of every rule and what they add up to.
  returned: always
  type: dict
  contains:
    environment:
      description: The environment evaluated.
      type: str
      sample: prod
    evaluated_until:
      description: End of the evaluated window (UTC); the last, unfinished period is not part of it.
      type: str
      sample: "2026-11-29T10:15:00Z"
    rules:
      description: Per rule, C(name), C(level), C(metric), C(comparison), C(threshold), C(state), C(reason), and
        C(datapoints) (per period, oldest first, C(timestamp), C(value) or null, C(breaching)).
      type: list
      elements: dict
      sample: [{"name": "error_rate", "level": 2, "state": "breaching", "reason": "ErrorRate Average > 10 ..."}]
    breaching:
      description: Names of the rules that fire.
      type: list
      elements: str
      sample: [error_rate]
    inconclusive:
      description: Names of the rules the data cannot decide.
      type: list
      elements: str
      sample: []
    errors:
      description: Names of the rules whose metric could not be read.
      type: list
      elements: str
      sample: []
    recommended_level:
      description: Highest level among the breaching rules; 0 when none breaches.
      type: int
      sample: 2
    all_clear:
      description: No rule breaches and none is in error.
      type: bool
      sample: false
calls:
  description: C(GetMetricData) calls made for the last evaluation (pages included).
  returned: always
  type: int
  sample: 1
rules:
  description: The rules evaluated, defaults filled in.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "error_rate", "level": 2, "threshold": 10}]
wait:
  description: How the wait went (polls, answered, unanswered, last answer's seconds, elapsed).
  returned: when O(wait_until_clear) is true
  type: dict
  sample: {"polls": 4, "answered": 4, "unanswered": 0, "last_answer_seconds": 0.02, "elapsed": 31.2}
finished_at:
  description: When the module finished, in epoch seconds (the rollback report times phases from it).
  returned: always
  type: float
  sample: 1798012345.123
"""

import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import (
    AWSAccess,
    AWSError,
    AWSFrame,
    AWSTransientError,
    call,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import poll_until, seconds
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._triggers import (
    RuleError,
    evaluate,
    fetch,
    queries,
    recovery_seconds,
    rules_or_defaults,
    window,
)


class TriggerEvaluator:
    """Reads the rules' metrics and judges them; one evaluation is one GetMetricData call per 500 queries."""

    def __init__(self, frame: AWSFrame):
        self.frame = frame
        params = frame.params
        if not params["environment"]:
            frame.fail("environment is empty: name the environment whose metrics to evaluate")
        try:
            self.rules = rules_or_defaults(params["rules"])
        except RuleError as exc:
            frame.fail(f"{exc}. Fix the option rules; nothing was read.")
        self.environment = params["environment"]
        self.access = AWSAccess(params, "cloudwatch")
        self.queries = queries(self.rules, self.environment)
        self.calls = 0

    def evaluate(self, client: Any = None) -> dict[str, Any]:
        start, end = window(self.rules, time.time())
        try:
            data, self.calls = fetch(client or self.access.client, self.queries, start, end, call)
        except AWSError as exc:
            self.calls = 1
            return evaluate(self.rules, self.environment, {}, end, error=str(exc))
        return evaluate(self.rules, self.environment, data, end)

    def wait_until_clear(self) -> dict[str, Any]:
        params = self.frame.params

        # The look that sized the wait (wait_timeout 0) is the first poll, not a second GetMetricData call.
        pending: list[dict[str, Any]] = []

        def one(wait: float) -> dict[str, Any]:
            found = pending.pop() if pending else self.evaluate(self.access.polling_client(wait))
            if found["errors"] and all(r["state"] == "error" for r in found["rules"]):
                # Nothing could be read: a sample without an answer, not a verdict.
                raise AWSTransientError(found["rules"][0]["reason"])
            return found

        timeout = params["wait_timeout"]
        if timeout <= 0:
            first = self.evaluate()
            if first["all_clear"]:
                return {"evaluation": first, "calls": self.calls, "rules": self.rules,
                        "wait": {"polls": 1, "answered": 1, "unanswered": 0, "last_answer_seconds": None,
                                 "elapsed": 0.0}}
            timeout = recovery_seconds(self.rules, first["breaching"] + first["errors"])
            pending.append(first)
        outcome = poll_until(one, lambda found: found["all_clear"], timeout, params["interval"],
                             transient=(AWSTransientError,))
        last = outcome.last_read
        result = {"evaluation": last or self.evaluate(), "calls": self.calls, "rules": self.rules,
                  "wait": outcome.summary()}
        if not outcome.done:
            evaluation = result["evaluation"]
            still = ", ".join(evaluation["breaching"] + evaluation["errors"]) or "none readable"
            self.frame.fail(f"The trigger metrics of {self.environment} did not clear within "
                            f"{seconds(timeout)}: still firing or unreadable: {still} "
                            f"({outcome.describe()}).", **result)
        return result


ARGUMENT_SPEC: dict[str, Any] = dict(
    environment=dict(type="str", required=True),
    rules=dict(type="list", elements="dict"),
    wait_until_clear=dict(type="bool", default=False),
    wait_timeout=dict(type="float", default=0),
    interval=dict(type="float", default=10),
)
FRAME = AWSFrame


def work(frame: AWSFrame) -> dict[str, Any]:
    evaluator = TriggerEvaluator(frame)
    if frame.params["wait_until_clear"]:
        return evaluator.wait_until_clear()
    return {"evaluation": evaluator.evaluate(), "calls": evaluator.calls, "rules": evaluator.rules}


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
