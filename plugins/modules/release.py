#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release
short_description: Put a given release in service through the admin API and wait for the deployment
version_added: 0.1.0
description:
  - Makes O(target) the current release with C(POST /admin/releases/rollback) and an C(Idempotency-Key), then polls the
    deployment until it succeeds, fails, or O(wait_timeout) passes.
  - Nothing is sent when O(target) is already current. A deployment already running towards O(target) (for example
    the one an interrupted run started) is waited for, not started again; one running towards another release is
    refused.
  - The key makes a retried request return the deployment it started instead of starting a second one. When an
    earlier attempt under the key failed (or the release moved on since), the next attempt uses C(<key>#2),
    C(<key>#3)... so a re-run can still succeed. The target is fixed by the caller, so no attempt ever walks further
    back than O(target).
  - Each read of the deployment waits for its answer as long as what is left of O(wait_timeout) allows; a read that
    gets no answer, or a 5xx, is counted and polling goes on. When the time runs out, the message says how many
    reads answered, how long the last answer took and how many got none.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.admin_api
attributes:
  check_mode:
    support: full
    details: Reads the releases and reports the deployment it would start.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  direction:
    description:
      - V(back) reverts to an earlier release; V(forward) puts back the release recorded in O(snapshot) once the
        incident is over.
    type: str
    choices: [back, forward]
    default: back
  target:
    description:
      - Release to put in service.
      - Not set, with O(direction=back), it is the C(previous) release recorded in O(snapshot) (the one before the
        pre-incident release, so a re-run aims at the same release instead of walking one more step back), else the
        service's C(previous) release; with O(direction=forward) it is the C(current) release recorded in O(snapshot).
    type: str
  snapshot:
    description:
      - The pre-incident snapshot, as M(matbakh.hybrid_routing.state_snapshot) returns it in its C(snapshot) result.
      - Gives the target when O(target) is not set, and the base of the idempotency key (its C(rollback_id)).
      - Required with O(direction=forward).
    type: dict
  force:
    description:
      - With O(direction=forward), put the recorded release back even though the current release is neither the
        recorded one nor the one a rollback goes back to (someone deployed during the incident).
    type: bool
    default: false
  idempotency_key:
    description:
      - Base of the C(Idempotency-Key). Not set, it is C(<snapshot rollback_id>:release:<target>) (C(:rollforward:)
        for O(direction=forward)), so that every re-run of the episode reuses it.
    type: str
  wait_timeout:
    description: Seconds to wait for the deployment to finish; V(0) does not wait.
    type: float
    default: 300
  interval:
    description: Seconds between two reads of the deployment.
    type: float
    default: 1
"""

EXAMPLES = r"""
---
- name: Take the snapshot first (it records the release to go back to)
  matbakh.hybrid_routing.state_snapshot:
    path: /var/lib/matbakh/prod/snapshot.json
    environment: prod
  register: snapshot

- name: Revert to the release before the incident
  matbakh.hybrid_routing.release:
    snapshot: "{{ snapshot.snapshot }}"
    wait_timeout: 420

- name: Once the incident is over, put the pre-incident release back
  matbakh.hybrid_routing.release:
    direction: forward
    snapshot: "{{ snapshot.snapshot }}"
"""

RETURN = r"""
release:
  description: Current and previous release after the call (predicted in check mode).
  returned: success
  type: dict
  sample: {"current": "2025.01.10-1", "previous": "2025.01.02-1"}
deployment:
  description: The deployment started or resumed; null when nothing had to change.
  returned: success
  type: dict
  sample: {"id": "d-42", "status": "succeeded", "from": "2025.01.14-2", "to": "2025.01.10-1"}
wait:
  description:
    - What the polls of the deployment saw (the same keys as M(matbakh.hybrid_routing.service_health)'s C(wait)).
  returned: when it waited for a deployment
  type: dict
  sample: {"polls": 3, "answered": 3, "unanswered": 0, "last_answer_seconds": 0.01, "elapsed": 1.02}
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

TERMINAL = ("succeeded", "failed")


def _describe(deployment: dict[str, Any]) -> str:
    key = deployment.get("idempotency_key")
    return (
        f"deployment {deployment.get('id')} from {deployment.get('from')} to {deployment.get('to')} "
        f"(started {deployment.get('started_at')}" + (f", key {key})" if key else ")")
    )


class ReleaseManager:
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        params = frame.params
        self.forward = params["direction"] == "forward"
        self.snapshot: dict[str, Any] = params["snapshot"] or {}
        self.recorded: dict[str, Any] = self.snapshot.get("release") or {}
        self.wait_summary: dict[str, Any] | None = None
        frame.check_wait()
        if self.forward and not self.recorded.get("current"):
            frame.fail("direction=forward needs the snapshot (option snapshot) with the release it recorded; "
                       "nothing was changed.")

    def _target(self, releases: dict[str, Any]) -> str:
        params = self.frame.params
        if self.forward:
            target = params["target"] or self.recorded["current"]
        else:
            target = params["target"] or self.recorded.get("previous") or (
                None if self.recorded else releases.get("previous"))
        if not target:
            oldest = self.recorded.get("current") or releases.get("current")
            self.frame.fail(
                f"There is no previous release to go back to: {oldest} was the oldest of "
                f"{', '.join(releases.get('available') or [])} before the incident. Name a release with the option "
                "target. Nothing was changed."
            )
        if target not in (releases.get("available") or [target]):
            given = (" (option target)" if params["target"] else " (recorded in the snapshot)" if self.recorded
                     else " (the service's previous release)")
            self.frame.fail(f"Unknown release {target}{given}; the service has {', '.join(releases['available'])}. "
                            "Nothing was changed.")
        return target

    def _refuse_drift(self, releases: dict[str, Any]) -> None:
        """Forward only: a release nobody of this incident deployed is not silently replaced."""
        current = releases.get("current")
        expected = [self.recorded.get("current"), self.recorded.get("previous")]
        if current not in expected and not self.frame.params["force"] and releases.get("deployment") is None:
            self.frame.fail(
                f"The release is now {current}, neither the pre-incident {expected[0]} nor {expected[1]} that a "
                f"rollback goes back to: someone deployed during the incident. Nothing was changed. Check it, then "
                f"set force=true to put {expected[0]} back anyway.",
                release={"current": current, "previous": releases.get("previous")},
            )

    def _base_key(self, target: str) -> str:
        key = self.frame.params["idempotency_key"]
        if key is not None and not key.strip():
            self.frame.fail("idempotency_key is empty: leave it unset, or give a key every re-run reuses")
        episode = self.snapshot.get("rollback_id") or "no-id"
        return key or f"{episode}:{'rollforward' if self.forward else 'release'}:{target}"

    def run(self) -> dict[str, Any]:
        api = self.frame.api
        releases = api.releases()
        target = self._target(releases)
        if self.forward:
            self._refuse_drift(releases)
        self.key = self._base_key(target)
        running = releases.get("deployment")
        if running and running.get("to") != target:
            self.frame.fail(
                f"Another deployment is in progress: {_describe(running)}. Wait for it to finish, then run again.",
                deployment=running,
            )
        before = {"current": releases.get("current"), "previous": releases.get("previous")}
        if running is None and releases.get("current") == target:
            return self._result(False, before, before, None)
        if self.frame.check_mode:
            return self._result(True, before, {"current": target, "previous": None}, running)
        if running is None:
            running = api.start_release_rollback(target, self._attempt_key(releases.get("history") or []))
            if running.get("to") != target:
                self.frame.fail(f"The service answered with {_describe(running)}, not a deployment of {target}.",
                                deployment=running)
        deployment = self._wait(running)
        after = api.releases()
        after_release = {"current": after.get("current"), "previous": after.get("previous")}
        if after_release["current"] != target:
            self.frame.fail(
                f"{_describe(deployment)} finished, but the current release is {after_release['current']}: "
                "someone deployed since. Check the release history before running again.",
                deployment=deployment, release=after_release,
            )
        return self._result(True, before, after_release, deployment)

    def _attempt_key(self, history: list[dict[str, Any]]) -> str:
        """The key itself for a first attempt; <key>#N when N-1 finished attempts under it did not stick."""
        attempts = [
            entry for entry in history
            if entry.get("idempotency_key") == self.key or str(entry.get("idempotency_key")).startswith(f"{self.key}#")
        ]
        return f"{self.key}#{len(attempts) + 1}" if attempts else self.key

    def _wait(self, deployment: dict[str, Any]) -> dict[str, Any]:
        wait_timeout = self.frame.params["wait_timeout"]
        if deployment.get("status") not in TERMINAL and wait_timeout > 0:
            outcome = self.frame.wait_until(
                lambda wait: self.frame.api.deployment(deployment["id"], wait=wait),
                lambda doc: doc.get("status") in TERMINAL,
                wait_timeout,
                self.frame.params["interval"],
            )
            self.wait_summary = outcome.summary()
            deployment = outcome.last_read or deployment
            if not outcome.done:
                self.frame.fail(
                    f"{_describe(deployment)} is still {deployment.get('status')} after {seconds(wait_timeout)} "
                    f"({outcome.describe()}). Running again resumes waiting for it.",
                    deployment=deployment, wait=self.wait_summary,
                )
        if deployment.get("status") == "failed":
            self.frame.fail(f"{_describe(deployment)} failed: {deployment.get('error') or 'see the service logs'}",
                            deployment=deployment)
        return deployment

    def _result(self, changed: bool, before: dict[str, Any], after: dict[str, Any],
                deployment: dict[str, Any] | None) -> dict[str, Any]:
        result: dict[str, Any] = {"changed": changed, "release": after, "deployment": deployment}
        if self.wait_summary is not None:
            result["wait"] = self.wait_summary
        if self.frame.diff_mode:
            result["diff"] = {"before": {"current": before["current"]}, "after": {"current": after["current"]}}
        return result


ARGUMENT_SPEC: dict[str, Any] = dict(
    direction=dict(type="str", choices=["back", "forward"], default="back"),
    target=dict(type="str"),
    snapshot=dict(type="dict"),
    force=dict(type="bool", default=False),
    idempotency_key=dict(type="str", no_log=False),
    wait_timeout=dict(type="float", default=300.0),
    interval=dict(type="float", default=1.0),
)
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    return ReleaseManager(frame).run()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
