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
  - Polls C(GET /health) until the reported status is one of O(wait_for) or O(wait_timeout) seconds have passed,
    and returns every sample it took.
  - Each poll waits for its answer as long as what is left of O(wait_timeout) allows, so a service that answers
    slowly is still seen; O(interval) and O(max_interval) are only the pauses between two polls. The last poll,
    at the deadline, still gets one second or 1.5 times as long as the previous answer took, whichever is longer.
    O(timeout) and O(retries) apply to other requests, not to these polls.
  - A poll that gets no answer (service restarting, connection refused) counts as an C(unreachable) sample, one
    answered with a 5xx or a 429 as an C(error) sample, and polling goes on; only the deadline ends the wait.
    The failure message then says how many polls answered, how long the last answer took and how many got none,
    so that a slow service and a down one read differently.
  - With O(wait_timeout=0) it takes a single sample (waiting up to O(timeout) for it) and never fails on the
    status.
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
  deadline:
    description:
      - Keep polling until this time (epoch seconds), and at least O(wait_timeout) seconds. The levels pass their
        run's deadline (the target from its start), so that verification gets what is left of the target.
      - Unset, the wait is O(wait_timeout) seconds.
    type: float
  interval:
    description:
      - Seconds before the second poll. Each pause after it is half as long again, up to O(max_interval), and
        jittered down by up to a quarter, so that a fleet's polls do not arrive together.
    type: float
    default: 0.5
  max_interval:
    description:
      - The longest pause between two polls, and so how late a recovery may be seen by polling.
    type: float
    default: 2
  hold_seconds:
    description:
      - Ask the service to hold each poll until the status is one of O(wait_for), for at most this many seconds
        (C(wait_for) and C(wait_seconds) of C(GET /health), docs/admin-api.md). The recovery is then seen as soon
        as the service reports it, with one request instead of one every O(max_interval).
      - A service that does not hold answers at once, and the polls back off as they would without it.
      - Each poll asks for at most what is left of the wait minus two seconds, so its answer comes before the
        client gives up on it. V(0) never asks.
    type: float
    default: 20
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
  description:
    - The last status seen; V(unreachable) when the last poll got no answer, V(error) when it was answered
      with a 5xx or a 429.
  returned: always
  type: str
  sample: healthy
health:
  description: The last C(/health) document.
  returned: when the service answered at least once
  type: dict
  sample: {"status": "healthy", "checks": {"api": {"status": "healthy"}}}
elapsed:
  description: Seconds from the first poll to the end of the last.
  returned: always
  type: float
  sample: 3.52
samples:
  description:
    - Every poll, oldest first, with when it was sent (seconds since the first, C(at)), how long its answer took
      (C(seconds); a held answer's without the hold it was asked for, O(hold_seconds)), and the failing checks or
      the error.
  returned: always
  type: list
  elements: dict
  sample: [{"at": 0.0, "seconds": 2.01, "status": "unhealthy", "failing": ["incident"]},
           {"at": 2.51, "seconds": 2.0, "status": "healthy", "failing": []}]
wait:
  description: What the polls saw, in numbers.
  returned: always
  type: dict
  contains:
    polls:
      description: How many polls were sent.
      type: int
    answered:
      description: How many got an HTTP answer (errors included).
      type: int
    unanswered:
      description: How many got none (refused, dropped, or no answer in the time left).
      type: int
    last_answer_seconds:
      description: How long the last answer took; null when none came.
      type: float
    elapsed:
      description: Seconds from the first poll to the end of the last.
      type: float
  sample: {"polls": 3, "answered": 3, "unanswered": 0, "last_answer_seconds": 2.01, "elapsed": 7.03}
finished_at:
  description:
    - When the module finished, in epoch seconds, by the clock of the host that ran it (the controller for the
      inventories of this collection). The rollback report times its phases from it.
  returned: always
  type: float
  sample: 1796040012.345
"""

import time
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIFrame
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import MIN_POLL_WAIT, PollSample, seconds

HOLD_MARGIN = 2.0


def _failing_checks(health: dict[str, Any]) -> list[str]:
    checks = health.get("checks") or {}
    return sorted(name for name, check in checks.items() if (check or {}).get("status") != "healthy")


def _sample(sample: PollSample) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": sample.at, "seconds": sample.latency}
    if isinstance(sample.value, dict):
        entry.update(status=sample.value.get("status", "unknown"), failing=_failing_checks(sample.value))
    else:
        entry.update(status="error" if sample.answered else "unreachable", error=sample.error)
    return entry


class HealthWaiter:
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        params = frame.params
        self.wanted = set(params["wait_for"])
        frame.check_wait()
        wait = params["wait_timeout"]
        if params["deadline"] is not None and wait > 0:
            wait = max(wait, params["deadline"] - time.time())
        self.wait_timeout = 0.0 if frame.check_mode else round(wait, 3)
        self.interval = params["interval"]
        self.max_interval = max(params["interval"], params["max_interval"])
        self.hold_seconds = params["hold_seconds"]
        self.held = 0.0  # what the last poll asked the service to hold
        if self.hold_seconds < 0 or params["max_interval"] <= 0:
            frame.fail(f"hold_seconds must be >= 0 and max_interval > 0 (got {self.hold_seconds:g} and "
                       f"{params['max_interval']:g}); nothing was changed.")

    def _fetch(self, wait: float) -> dict[str, Any]:
        # The hold ends HOLD_MARGIN before the poll's own wait, so the held answer is never cut off by the client.
        hold = min(self.hold_seconds, wait - HOLD_MARGIN) if self.wait_timeout > 0 else 0.0
        self.held = hold if hold >= 1 else 0.0
        if not self.held:
            return self.frame.api.health(wait=wait)
        return self.frame.api.health(wait=wait, hold_for=sorted(self.wanted), hold_seconds=hold)

    def _service_time(self, sample: PollSample) -> None:
        """A held answer that is not a wanted status was held all the time it was asked for (docs/admin-api.md):
        the rest is the service's own time, which is what the messages and the next poll's floor are about."""
        if self.held and sample.answered and isinstance(sample.value, dict) and not self._is_wanted(sample.value):
            sample.latency = round(max(0.0, sample.latency - self.held), 3)

    def _is_wanted(self, value: dict[str, Any]) -> bool:
        return value.get("status") in self.wanted

    def run(self) -> dict[str, Any]:
        samples: list[dict[str, Any]] = []
        outcome = self.frame.wait_until(
            self._fetch, self._is_wanted, self.wait_timeout, self.interval,
            on_sample=lambda sample: (self._service_time(sample), samples.append(_sample(sample))),
            max_interval=self.max_interval,
            # A single look (check mode, wait_timeout=0) gets the connection's own timeout to answer.
            min_wait=self.frame.params["timeout"] if self.wait_timeout == 0 else MIN_POLL_WAIT,
        )
        result: dict[str, Any] = {
            "changed": False,
            "status": samples[-1]["status"],
            "elapsed": outcome.elapsed,
            "samples": samples,
            "wait": outcome.summary(),
        }
        if outcome.last_read is not None:
            result["health"] = outcome.last_read
        if self.wait_timeout > 0 and not outcome.done:
            failing = ", ".join(samples[-1].get("failing") or [])
            self.frame.fail(
                f"The service did not become {' or '.join(sorted(self.wanted))} within {seconds(self.wait_timeout)}: "
                f"last status {result['status']}" + (f" ({failing})" if failing else "") + f". {outcome.describe()}.",
                **result,
            )
        return result


ARGUMENT_SPEC: dict[str, Any] = dict(
    wait_for=dict(type="list", elements="str", default=["healthy"], choices=["healthy", "degraded", "unhealthy"]),
    wait_timeout=dict(type="float", default=120.0),
    deadline=dict(type="float"),
    interval=dict(type="float", default=0.5),
    max_interval=dict(type="float", default=2.0),
    hold_seconds=dict(type="float", default=20.0),
)
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    return HealthWaiter(frame).run()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
