#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: routing_mode
short_description: Set the hybrid routing mode and wait until traffic really follows it
version_added: 0.1.0
description:
  - Sets the routing mode (V(hybrid), V(mcp_only), V(direct_only)) and, for V(hybrid), the traffic weights, with one
    C(PUT /admin/routing) when they differ from the current setting.
  - Then polls C(GET /admin/routing) until the C(effective) mode and split (what traffic really does) match, or
    O(wait_timeout) seconds pass. A re-run after an interrupted one still waits for the effective split.
  - Each poll waits for its answer as long as what is left of O(wait_timeout) allows; a poll that gets no answer,
    or a 5xx, is counted and polling goes on. When the time runs out, the message says how many polls answered,
    how long the last answer took and how many got none.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.admin_api
attributes:
  check_mode:
    support: full
    details: Reads the routing and reports what would change; no write and no wait.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  mode:
    description: Desired routing mode. V(mcp_only) sends all traffic through the MCP path.
    type: str
    required: true
    choices: [hybrid, mcp_only, direct_only]
  weights:
    description:
      - Traffic split in percent for O(mode=hybrid), keys C(direct) and C(mcp), summing to 100.
      - Not set keeps the current split (or the service's last hybrid split).
    type: dict
  wait_timeout:
    description: Seconds to wait for the effective routing to match; V(0) does not wait.
    type: float
    default: 60
  interval:
    description: Seconds between two reads while waiting.
    type: float
    default: 0.5
seealso:
  - module: matbakh.hybrid_routing.feature_flags
"""

EXAMPLES = r"""
---
- name: Force all traffic to MCP (Level 2 rollback) and wait until it has moved
  matbakh.hybrid_routing.routing_mode:
    mode: mcp_only
    wait_timeout: 120

- name: Restore the hybrid split
  matbakh.hybrid_routing.routing_mode:
    mode: hybrid
    weights: {direct: 70, mcp: 30}
"""

RETURN = r"""
routing:
  description: The routing document after the change (predicted in check mode), including C(effective).
  returned: success
  type: dict
  sample: {"mode": "mcp_only", "weights": {"direct": 0, "mcp": 100},
           "effective": {"mode": "mcp_only", "weights": {"direct": 0, "mcp": 100}}}
converged:
  description: Whether the effective routing matched the desired one when the module returned.
  returned: success
  type: bool
  sample: true
elapsed:
  description: Seconds spent waiting for the effective routing.
  returned: success
  type: float
  sample: 2.51
wait:
  description:
    - What the polls saw while waiting (the same keys as M(matbakh.hybrid_routing.service_health)'s C(wait)).
  returned: when it waited
  type: dict
  sample: {"polls": 5, "answered": 5, "unanswered": 0, "last_answer_seconds": 0.01, "elapsed": 2.51}
finished_at:
  description:
    - When the module finished, in epoch seconds, by the clock of the host that ran it (the controller for the
      inventories of this collection). The rollback report times its phases from it.
  returned: always
  type: float
  sample: 1796040012.345
"""

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIFrame
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import seconds

FIXED_SPLITS = {"mcp_only": {"direct": 0, "mcp": 100}, "direct_only": {"direct": 100, "mcp": 0}}


def _split(doc: dict[str, Any] | None) -> str:
    weights = (doc or {}).get("weights") or {}
    return f"{(doc or {}).get('mode')} (direct {weights.get('direct')} / mcp {weights.get('mcp')})"


class RoutingManager:
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        params = frame.params
        self.mode: str = params["mode"]
        self.weights = self._weights(params["weights"])
        frame.check_wait()

    def _weights(self, weights: dict[str, Any] | None) -> dict[str, int] | None:
        if weights is None:
            return None
        if self.mode != "hybrid":
            self.frame.fail(f"weights only apply to mode hybrid; {self.mode} has a fixed split")
        try:
            parsed = {"direct": int(weights["direct"]), "mcp": int(weights["mcp"])}
        except (KeyError, TypeError, ValueError):
            self.frame.fail("weights needs integer percentages for both 'direct' and 'mcp'")
        if set(weights) != {"direct", "mcp"} or parsed["direct"] + parsed["mcp"] != 100 or min(parsed.values()) < 0:
            self.frame.fail(f"weights must be direct and mcp percentages summing to 100, got {weights}")
        return parsed

    def _differs(self, current: dict[str, Any]) -> bool:
        if current.get("mode") != self.mode:
            return True
        return self.weights is not None and current.get("weights") != self.weights

    @staticmethod
    def _settled(doc: dict[str, Any]) -> bool:
        effective = doc.get("effective") or {}
        return effective.get("mode") == doc.get("mode") and effective.get("weights") == doc.get("weights")

    def run(self) -> dict[str, Any]:
        api = self.frame.api
        current = api.routing()
        changed = self._differs(current)
        routing = current
        if changed:
            if self.frame.check_mode:
                weights = FIXED_SPLITS.get(self.mode) or self.weights or current.get("weights")
                routing = dict(current, mode=self.mode, weights=weights)
            else:
                routing = api.set_routing(self.mode, self.weights)
        result: dict[str, Any] = {"changed": changed, "routing": routing, "converged": self._settled(routing),
                                  "elapsed": 0.0}
        if self.frame.diff_mode:
            result["diff"] = {
                "before": {"mode": current.get("mode"), "weights": current.get("weights")},
                "after": {"mode": routing.get("mode"), "weights": routing.get("weights")},
            }
        wait_timeout = self.frame.params["wait_timeout"]
        if self.frame.check_mode or wait_timeout == 0 or result["converged"]:
            return result
        outcome = self.frame.wait_until(api.routing, self._settled, wait_timeout, self.frame.params["interval"])
        last_read = outcome.last_read or routing
        result.update(routing=last_read, converged=outcome.done, elapsed=outcome.elapsed, wait=outcome.summary())
        if not outcome.done:
            self.frame.fail(
                f"Traffic has not followed the routing change within {seconds(wait_timeout)}: desired "
                f"{_split(last_read)}, effective {_split(last_read.get('effective'))}. {outcome.describe()}.",
                **result,
            )
        return result


ARGUMENT_SPEC: dict[str, Any] = dict(
    mode=dict(type="str", required=True, choices=["hybrid", "mcp_only", "direct_only"]),
    weights=dict(type="dict"),
    wait_timeout=dict(type="float", default=60.0),
    interval=dict(type="float", default=0.5),
)
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    return RoutingManager(frame).run()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
