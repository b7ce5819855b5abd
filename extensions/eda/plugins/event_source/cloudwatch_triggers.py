# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""cloudwatch_triggers: evaluate the rollback trigger rules on an interval; one event per breaching rule.

The evaluation is the collection's own (plugins/module_utils/_triggers.py, as triggers_info uses it): the same
rules, the same single GetMetricData call per environment, the same verdicts.

Arguments (all optional but the environment):
  environments: list of environment names (or environment: one name)
  rules: the trigger rules (default: the collection's defaults, docs/metrics.md)
  interval: seconds between evaluations (default 60)
  region, endpoint_url, access_key, secret_key, session_token, profile: AWS access
      (default: the AWS_* environment variables and the boto3 credential chain)

Each event: {"hybrid_routing_trigger": {"environment", "rule", "level", "recommended_level", "breaching", "reason",
"evaluated_until"}}. Rules that cannot be read are logged, never sent as a breach.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import Any

try:
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _triggers
except ImportError:  # loaded by path from an installed collection: its collections root is seven levels up
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 7)))
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _triggers

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSAccess, AWSError, call

logger = logging.getLogger(__name__)

DOCUMENTATION = r"""
---
short_description: Evaluate the hybrid routing rollback trigger rules on an interval.
description:
  - Evaluates the trigger rules (CloudWatch) of each environment every O(interval) seconds and puts one event per
    breaching rule on the queue.
options:
  environments:
    description: The environments (values of the Environment dimension).
    type: list
    elements: str
  environment:
    description: One environment, instead of O(environments).
    type: str
  rules:
    description: The trigger rules; default the collection's (docs/metrics.md).
    type: list
    elements: dict
  interval:
    description: Seconds between two evaluations.
    type: float
    default: 60
  region:
    description: AWS region (default AWS_REGION).
    type: str
  endpoint_url:
    description: AWS endpoint (moto in the sandbox).
    type: str
"""


def _aws_params(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "region": args.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        "endpoint_url": args.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL"),
        "access_key": args.get("access_key") or os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret_key": args.get("secret_key") or os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "session_token": args.get("session_token") or os.environ.get("AWS_SESSION_TOKEN"),
        "profile": args.get("profile") or os.environ.get("AWS_PROFILE"),
        "aws_max_attempts": 3,
    }


def evaluate(client: Any, rules: list[dict[str, Any]], environment: str) -> dict[str, Any]:
    start, end = _triggers.window(rules, time.time())
    try:
        data, _calls = _triggers.fetch(client, _triggers.queries(rules, environment), start, end, call)
    except AWSError as exc:
        return _triggers.evaluate(rules, environment, {}, end, error=str(exc))
    return _triggers.evaluate(rules, environment, data, end)


def events(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """One event per breaching rule."""
    return [{"hybrid_routing_trigger": {
        "environment": evaluation["environment"], "rule": rule["name"], "level": rule["level"],
        "recommended_level": evaluation["recommended_level"], "breaching": evaluation["breaching"],
        "reason": rule["reason"], "evaluated_until": evaluation["evaluated_until"]}}
        for rule in evaluation["rules"] if rule["state"] == _triggers.BREACHING]


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    environments = list(args.get("environments") or [args["environment"]])
    rules = _triggers.rules_or_defaults(args.get("rules") or None)
    interval = float(args.get("interval", 60))
    client = AWSAccess(_aws_params(args), "cloudwatch").client
    while True:
        for environment in environments:
            evaluation = await asyncio.to_thread(evaluate, client, rules, environment)
            for rule in evaluation["rules"]:
                if rule["state"] == _triggers.ERROR:
                    logger.warning("%s: rule %s cannot be read: %s", environment, rule["name"], rule["reason"])
            for event in events(evaluation):
                await queue.put(event)
        await asyncio.sleep(interval)


if __name__ == "__main__":
    # python cloudwatch_triggers.py ENVIRONMENT: print the events of one evaluation.
    class _PrintQueue:
        async def put(self, event: dict[str, Any]) -> None:
            print(event)

    async def _once() -> None:
        client = AWSAccess(_aws_params({}), "cloudwatch").client
        for event in events(evaluate(client, _triggers.rules_or_defaults(None), sys.argv[1])):
            await _PrintQueue().put(event)

    asyncio.run(_once())
