#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: drill_info
short_description: The drill history of an environment, against the monthly drill schedule
version_added: 0.3.0
description:
  - Reads, in one C(GetMetricData) call, the rollback metrics every drill publishes (namespace
    C(Matbakh/HybridRouting/Rollbacks), dimension C(Drill=true); see M(matbakh.hybrid_routing.rollback_metrics)) and
    reports per drill the last day it succeeded, its longest duration that day, whether a run missed its target,
    and whether it is overdue.
  - "The schedule is the seed's: the first Sunday of the month Level 1, the second Level 2, the third Level 3, the
    fourth a full disaster recovery (its roll-forward counts). A drill done up to 7 days before its Sunday counts
    for it."
  - CloudWatch is where every controller sees the history; it keeps daily datapoints for 455 days.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.aws
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  environment:
    description: The environment (the C(Environment) dimension).
    type: str
    required: true
  days:
    description: How far back to look, in days.
    type: int
    default: 62
  today:
    description: The date to judge the schedule at (C(YYYY-MM-DD)); default today (UTC).
    type: str
"""

EXAMPLES = r"""
---
- name: Which drills are overdue in staging
  matbakh.hybrid_routing.drill_info:
    environment: staging
    region: eu-central-1
  register: drills

- name: Show them
  ansible.builtin.debug:
    msg: "{{ drills.overdue }}"
"""

RETURN = r"""
drills:
  description: Per drill (level1_drill, level2_drill, level3_drill, dr_drill) its history against the schedule.
  returned: always
  type: dict
  sample:
    level2_drill: {"level": "2", "last_success": "2026-11-08", "duration_seconds": 41.2, "target_missed": false,
                   "last_due": "2026-11-08", "next_due": "2026-12-13", "overdue": false}
overdue:
  description: The drills that are overdue.
  returned: always
  type: list
  elements: str
  sample: [dr_drill]
finished_at:
  description: When the module finished, in epoch seconds.
  returned: always
  type: float
  sample: 1796040012.345
"""

import datetime
import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSAccess, AWSFrame, call
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._drills import SCHEDULE, history, queries
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module


def work(frame: AWSFrame) -> dict[str, Any]:
    params = frame.params
    try:
        today = (datetime.date.fromisoformat(params["today"]) if params["today"]
                 else datetime.datetime.now(datetime.timezone.utc).date())
    except ValueError:
        frame.fail(f"today must be a date like 2026-11-29, got {params['today']!r}")
    if params["days"] < 1:
        frame.fail(f"days must be at least 1, got {params['days']}")
    levels = list(SCHEDULE)
    end = int(time.time()) // 86400 * 86400 + 86400
    client = AWSAccess(params, "cloudwatch").client
    series: dict[str, dict[float, float]] = {}
    token = None
    while True:
        extra = {"NextToken": token} if token else {}
        answer = call("Reading the drill history (GetMetricData)", client.get_metric_data,
                      MetricDataQueries=queries(params["environment"], levels),
                      StartTime=end - params["days"] * 86400, EndTime=end, **extra)
        for result in answer.get("MetricDataResults", []):
            values = series.setdefault(result["Id"], {})
            stamps, found = result.get("Timestamps", []), result.get("Values", [])
            for index in range(min(len(stamps), len(found))):
                values[stamps[index].timestamp()] = found[index]
        token = answer.get("NextToken")
        if not token:
            break
    drills = history(levels, series, today)
    return {"drills": drills, "overdue": [name for name, drill in drills.items() if drill["overdue"]]}


ARGUMENT_SPEC: dict[str, Any] = dict(
    environment=dict(type="str", required=True),
    days=dict(type="int", default=62),
    today=dict(type="str"),
)
FRAME = AWSFrame


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
