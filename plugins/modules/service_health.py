#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_health
short_description: Wait until the hybrid routing service reports a wanted health status
version_added: 0.1.0
description:
  - Polls C(GET /health) every O(interval) seconds until the reported status is one of O(wait_for) or
    O(wait_timeout) seconds have passed, and returns every sample it took.
  - A poll that gets no answer (service restarting, connection refused) counts as an C(unreachable) sample and
    polling goes on; only the deadline ends the wait.
  - With O(wait_timeout=0) it takes a single sample and never fails on the status.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.admin_api
attributes:
  check_mode:
    support: full
    details:
      - Takes a single sample and reports it without failing, since a dry run changed nothing to recover from.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Reads only.
options:
  wait_for:
    description: Statuses that end the wait successfully.
    type: list
    elements: str
    choices: [healthy, degraded, unhealthy]
    default: [healthy]
  wait_timeout:
    description: Seconds to keep polling before failing. V(0) takes one sample and does not fail on its status.
    type: float
    default: 120
  interval:
    description: Seconds between two polls. Short, so the wait ends soon after the service recovers.
    type: float
    default: 0.5
seealso:
  - module: matbakh.hybrid_routing.service_info
"""

EXAMPLES = r"""
---
- name: Verify recovery within the Level 1 budget
  matbakh.hybrid_routing.service_health:
    api_base: https://api.matbakh.app
    admin_token: "{{ vault_admin_token }}"
    wait_for: [healthy]
    wait_timeout: 90
    interval: 0.5
  register: recovery

- name: Show how long recovery took
  ansible.builtin.debug:
    msg: "Healthy after {{ recovery.elapsed }}s ({{ recovery.samples | length }} samples)"
"""

RETURN = r"""
status:
  description: The last status seen (V(unreachable) when the last poll got no answer).
  returned: always
  type: str
  sample: healthy
health:
  description: The last C(/health) document.
  returned: when the service answered at least once
  type: dict
  sample: {"status": "healthy", "checks": {"api": {"status": "healthy"}}}
elapsed:
  description: Seconds from the first poll to the last.
  returned: always
  type: float
  sample: 3.52
samples:
  description: Every poll, oldest first, with the seconds since the first poll and the failing checks.
  returned: always
  type: list
  elements: dict
  sample: [{"at": 0.0, "status": "unhealthy", "failing": ["incident"]}, {"at": 0.5, "status": "healthy", "failing": []}]
"""

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIModule
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import ServerError, UnreachableError
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import poll_until


def _failing_checks(health: dict[str, Any]) -> list[str]:
    checks = health.get("checks") or {}
    return sorted(name for name, check in checks.items() if (check or {}).get("status") != "healthy")


class HealthWaiter:
    def __init__(self, frame: AdminAPIModule):
        self.frame = frame
        params = frame.params
        self.wanted = set(params["wait_for"])
        self.wait_timeout = 0.0 if frame.check_mode else params["wait_timeout"]
        self.interval = params["interval"]
        if self.wait_timeout < 0 or self.interval <= 0:
            frame.fail(
                f"wait_timeout must be >= 0 and interval > 0 (got {self.wait_timeout:g} and {self.interval:g})"
            )
        # One quick attempt per poll: the poll loop is the retry, so a poll never outlasts the deadline by much.
        per_poll = min(frame.api.http.timeout, max(self.interval * 4, 2.0))
        frame.api.http.set_limits(per_poll, retries=0, total_timeout=per_poll)

    def _read(self) -> Any:
        """The health document, or the error that stood in for it; a poll never raises on a missed answer."""
        try:
            return self.frame.api.health()
        except (UnreachableError, ServerError) as exc:
            return exc

    def _is_wanted(self, value: Any) -> bool:
        return isinstance(value, dict) and value.get("status") in self.wanted

    def run(self) -> dict[str, Any]:
        samples: list[dict[str, Any]] = []
        last_health: list[dict[str, Any]] = []

        def record(at: float, value: Any) -> None:
            if isinstance(value, dict):
                last_health[:] = [value]
                samples.append({"at": at, "status": value.get("status", "unknown"), "failing": _failing_checks(value)})
            else:
                samples.append({"at": at, "status": "unreachable", "error": str(value)})

        poll_until(self._read, self._is_wanted, self.wait_timeout, self.interval, record)
        result: dict[str, Any] = {
            "changed": False,
            "status": samples[-1]["status"],
            "elapsed": samples[-1]["at"],
            "samples": samples,
        }
        if last_health:
            result["health"] = last_health[0]
        if self.wait_timeout > 0 and result["status"] not in self.wanted:
            failing = ", ".join(samples[-1].get("failing") or []) or samples[-1].get("error", "")
            self.frame.fail(
                f"The service did not become {' or '.join(sorted(self.wanted))} within {self.wait_timeout:g}s: "
                f"last status {result['status']}" + (f" ({failing})" if failing else "")
                + f" after {len(samples)} polls.",
                **result,
            )
        return result


def main() -> None:
    argument_spec = dict(
        wait_for=dict(
            type="list", elements="str", default=["healthy"], choices=["healthy", "degraded", "unhealthy"]
        ),
        wait_timeout=dict(type="float", default=120.0),
        interval=dict(type="float", default=0.5),
    )
    frame = AdminAPIModule(argument_spec, supports_check_mode=True)
    frame.run(HealthWaiter(frame).run)


if __name__ == "__main__":
    main()
