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
  target:
    description:
      - Release to put in service. Empty means the service's C(previous) release.
      - The C(release_revert) role passes the previous release recorded in the snapshot, so a re-run aims at the same
        release instead of walking one more step back.
    type: str
  idempotency_key:
    description: Base of the C(Idempotency-Key); derive it from the rollback episode so that a re-run reuses it.
    type: str
    required: true
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
- name: Revert to the release before the incident
  matbakh.hybrid_routing.release:
    target: "{{ snapshot.release.previous }}"
    idempotency_key: "{{ snapshot.rollback_id }}:release:{{ snapshot.release.previous }}"
    wait_timeout: 420
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
"""

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIFrame
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import seconds

TERMINAL = ("succeeded", "failed")


def _describe(deployment: dict[str, Any]) -> str:
    return (
        f"deployment {deployment.get('id')} from {deployment.get('from')} to {deployment.get('to')} "
        f"(started {deployment.get('started_at')}, key {deployment.get('idempotency_key')})"
    )


class ReleaseManager:
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        self.key: str = frame.params["idempotency_key"]
        self.wait_summary: dict[str, Any] | None = None
        if not self.key.strip():
            frame.fail("idempotency_key is empty: derive it from the rollback id so that re-runs reuse it")

    def _target(self, releases: dict[str, Any]) -> str:
        target = self.frame.params["target"] or releases.get("previous")
        if not target:
            self.frame.fail(
                f"There is no previous release to go back to: {releases.get('current')} is the oldest of "
                f"{', '.join(releases.get('available') or [])}. Name a release with release_revert_target."
            )
        if target not in (releases.get("available") or [target]):
            self.frame.fail(f"Unknown release {target!r}; the service has {', '.join(releases['available'])}.")
        return target

    def run(self) -> dict[str, Any]:
        api = self.frame.api
        releases = api.releases()
        target = self._target(releases)
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
    target=dict(type="str"),
    idempotency_key=dict(type="str", required=True, no_log=False),
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
