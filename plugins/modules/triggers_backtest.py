#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: triggers_backtest
short_description: Replay the rollback trigger rules over a past period of CloudWatch data
version_added: 0.3.0
description:
  - Reads the metrics of every rule over the period (one C(GetMetricData) call per 500 queries, pages followed)
    and judges each rule at every boundary of its period, as an alarm on it would have been judged.
  - Returns when each rule would have fired and at which level, and the incidents (overlapping firing spans) with
    the level an automatic rollback would have run - so thresholds can be tuned before automatic action is on.
  - Read-only; the same evaluation code as M(matbakh.hybrid_routing.triggers_info).
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.aws_group
  - matbakh.hybrid_routing.attributes.READ_ONLY
options:
  environment:
    description: The environment, as the value of the C(Environment) dimension.
    type: str
    required: true
  rules:
    description: The trigger rules; omitted or null means the collection's defaults (C(docs/metrics.md)).
    type: list
    elements: dict
  start:
    description:
      - Start of the period, ISO 8601 in UTC (for example V(2026-11-28T00:00:00Z)).
      - Default O(hours) before O(end).
    type: str
  end:
    description: End of the period, ISO 8601 in UTC; default now.
    type: str
  hours:
    description: Length of the period when O(start) is not given.
    type: float
    default: 24
"""

EXAMPLES = r"""
---
- name: What would the rules have done yesterday?
  matbakh.hybrid_routing.triggers_backtest:
    environment: prod
    hours: 24
  register: backtest
"""

RETURN = r"""
backtest:
  description: What the rules would have done.
  returned: always
  type: dict
  contains:
    start:
      description: Start of the period (UTC).
      type: str
    end:
      description: End of the period (UTC).
      type: str
    rules:
      description: Per rule, its firing spans (C(from), C(to), C(minutes), C(level)).
      type: dict
    incidents:
      description: Overlapping firing spans of all rules, with the highest level and the rules.
      type: list
      elements: dict
    highest_level:
      description: The highest level any incident would have called for; 0 when none.
      type: int
    summary:
      description: The same, as lines of text.
      type: list
      elements: str
  sample: {"incidents": [{"from": "2026-11-28T10:05:00Z", "to": "2026-11-28T10:12:00Z", "level": 2,
                          "rules": ["error_rate"], "minutes": 7.0}], "highest_level": 2}
calls:
  description: C(GetMetricData) calls made (pages included).
  returned: always
  type: int
  sample: 1
finished_at:
  description: When the module finished, in epoch seconds.
  returned: always
  type: float
  sample: 1798012345.123
"""

import datetime
import math
import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSAccess, AWSFrame, call
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._triggers import (
    RuleError,
    backtest,
    fetch,
    queries,
    rules_or_defaults,
)


def _epoch(frame: AWSFrame, option: str) -> float:
    value = frame.params[option]
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        frame.fail(f"{option} is not an ISO 8601 time ({value!r}); write it like 2026-11-28T00:00:00Z")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


ARGUMENT_SPEC: dict[str, Any] = dict(
    environment=dict(type="str", required=True),
    rules=dict(type="list", elements="dict"),
    start=dict(type="str"),
    end=dict(type="str"),
    hours=dict(type="float", default=24),
)
FRAME = AWSFrame


def work(frame: AWSFrame) -> dict[str, Any]:
    params = frame.params
    try:
        rules = rules_or_defaults(params["rules"])
    except RuleError as exc:
        frame.fail(f"{exc}. Fix the option rules; nothing was read.")
    end = _epoch(frame, "end") if params["end"] else time.time()
    start = _epoch(frame, "start") if params["start"] else end - params["hours"] * 3600
    if not 0 < end - start <= 15 * 86400:
        frame.fail(f"The period must be longer than 0 and at most 15 days (CloudWatch keeps minute data that "
                   f"long); got {round((end - start) / 3600, 2)} hours.")
    # The data start on a boundary of every period, early enough for the first judgement's longest window.
    common = math.lcm(*(r["metric"]["period"] for r in rules))
    longest = max(r["metric"]["period"] * r["evaluation_periods"] for r in rules)
    fetch_start = math.floor((start - longest) / common) * common
    client = AWSAccess(params, "cloudwatch").client
    data, calls = fetch(client, queries(rules, params["environment"]), fetch_start, end, call)
    return {"backtest": backtest(rules, data, start, end), "calls": calls}


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
