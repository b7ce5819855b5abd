#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_lock
short_description: Acquire or release the rollback lease of the hybrid routing service
version_added: 0.1.0
description:
  - One lease per service serialises rollbacks. V(present) takes it (or renews it when O(holder) already holds it);
    V(absent) gives it back.
  - A lease held by someone else fails at once, saying who holds it, why and since when, unless O(takeover=true),
    which replaces it; the service records the takeover.
  - An expired lease is free; the TTL is how long a crashed run can block others.
  - The same O(holder) takes over its own lease at once when the run that took it is gone (killed or crashed). The
    lease names the controller host and the C(ansible-playbook) process that took it; only a lease whose process
    still runs on this host refuses a second run of the same holder.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.admin_api
attributes:
  check_mode:
    support: full
    details: Reads the lease and reports what would happen, including the failure when someone else holds it.
  diff_mode:
    support: full
  idempotent:
    support: partial
    details:
      - V(present) renews the lease each time (a new TTL), so it always reports a change.
      - V(absent) is idempotent.
options:
  state:
    description: V(present) to hold the lease, V(absent) to release it.
    type: str
    choices: [present, absent]
    default: present
  holder:
    description: Who holds the lease, usually the operator (inventory variable C(hybrid_routing_operator)).
    type: str
    required: true
  reason:
    description: Why the lease is taken; shown to anyone who finds it held.
    type: str
    default: ""
  ttl_seconds:
    description: Lease lifetime in seconds.
    type: int
    default: 900
  takeover:
    description: Replace a lease held by someone else. Use only after talking to its holder.
    type: bool
    default: false
"""

EXAMPLES = r"""
---
- name: Take the rollback lock
  matbakh.hybrid_routing.rollback_lock:
    holder: "{{ hybrid_routing_operator }}"
    reason: "Level 2 rollback {{ rollback_id }}"
    ttl_seconds: 900

- name: Give it back
  matbakh.hybrid_routing.rollback_lock:
    holder: "{{ hybrid_routing_operator }}"
    state: absent
"""

RETURN = r"""
lock:
  description: The lease after the call (predicted in check mode).
  returned: success
  type: dict
  sample: {"held": true, "holder": "alice", "reason": "Level 1 rollback", "acquired_at": "2026-11-28T12:00:00Z",
           "expires_at": "2026-11-28T12:15:00Z", "ttl_seconds": 900}
previous:
  description: The lease found before the call (expired, renewed or taken over), or null.
  returned: success
  type: dict
  sample: {"held": true, "holder": "bob", "reason": "drill"}
took_over_own:
  description: Whether a stale lease of the same holder (its run gone) was taken over.
  returned: when O(state=present)
  type: bool
  sample: false
taken_over:
  description: Whether a lease of someone else was replaced.
  returned: when O(state=present)
  type: bool
  sample: false
"""

import os
import re
import socket
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIFrame
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import ConflictError

RUN_MARKER = re.compile(r"\[run (?P<host>[^\]\s]+) pid (?P<pid>\d+)\]")


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def playbook_pid() -> int | None:
    """The main ansible-playbook process this module runs under (local connection), if it can be found.

    Task workers are forks of it with the same command line, so the outermost one is the run.
    """
    found = None
    pid = os.getppid()
    for _depth in range(12):
        if pid <= 1:
            break
        if "ansible-playbook" in _cmdline(pid):
            found = pid
        elif found is not None:
            break
        pid = _parent(pid)
    return found


def run_alive(marker: re.Match[str] | None) -> bool:
    """Whether the run named by a lease marker still runs here; a run on another host is taken as gone."""
    if marker is None or marker["host"] != socket.gethostname():
        return False
    return "ansible-playbook" in _cmdline(int(marker["pid"]))


def describe_lease(lock: dict[str, Any]) -> str:
    text = f"held by {lock.get('holder')} since {lock.get('acquired_at')}"
    if lock.get("reason"):
        text += f" (reason: {lock['reason']})"
    if lock.get("rollback_id"):
        text += f", rollback {lock['rollback_id']}"
    return f"{text}, expires {lock.get('expires_at')}"


class RollbackLockManager:
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        params = frame.params
        self.holder: str = params["holder"]
        pid = playbook_pid()
        self.marker = f"[run {socket.gethostname()} pid {pid}]" if pid else ""
        if not self.holder.strip():
            frame.fail("holder is empty: set hybrid_routing_operator to who runs the rollback")
        if params["ttl_seconds"] <= 0:
            frame.fail(f"ttl_seconds must be positive, got {params['ttl_seconds']}")

    def _held_by_other(self, lock: dict[str, Any]) -> bool:
        return bool(lock.get("held")) and lock.get("holder") != self.holder

    def _own_run_alive(self, lock: dict[str, Any]) -> bool:
        if not lock.get("held") or lock.get("holder") != self.holder:
            return False
        marker = RUN_MARKER.search(lock.get("reason") or "")
        return bool(marker) and marker.group(0) != self.marker and run_alive(marker)

    def _refuse(self, lock: dict[str, Any]) -> None:
        self.frame.fail(
            f"The rollback lock is {describe_lease(lock)}. Another rollback is running: wait for it to finish or "
            "for the lease to expire, or set hybrid_routing_lock_takeover=true to take it over (recorded).",
            lock=lock,
        )

    def present(self) -> dict[str, Any]:
        params = self.frame.params
        before = self.frame.api.lock()
        takeover = params["takeover"]
        if self._held_by_other(before) and not takeover:
            self._refuse(before)
        if self._own_run_alive(before) and not takeover:
            self.frame.fail(
                f"The rollback lock is {describe_lease(before)}: another run of yours that is still going on this "
                "controller. Let it finish (or stop it; a lock whose run is gone is taken over at once).",
                lock=before,
            )
        taken_over = self._held_by_other(before)
        took_over_own = bool(before.get("held")) and not taken_over
        reason = f"{params['reason']} {self.marker}".strip()
        if self.frame.check_mode:
            after = {"held": True, "holder": self.holder, "reason": reason, "ttl_seconds": params["ttl_seconds"]}
        else:
            try:
                answer = self.frame.api.acquire_lock(self.holder, reason, params["ttl_seconds"], takeover)
            except ConflictError as exc:
                lock = exc.body.get("lock") if isinstance(exc.body, dict) else None
                self._refuse(lock or before)
            after = dict(answer.get("lock") or {}, held=True)
            taken_over = bool(answer.get("taken_over", taken_over))
        return self._result(True, before, after, taken_over=taken_over, took_over_own=took_over_own)

    def absent(self) -> dict[str, Any]:
        before = self.frame.api.lock()
        if self._held_by_other(before):
            return dict(self._result(False, before, before), msg=f"Left the lock alone: it is {describe_lease(before)}")
        if not before.get("held"):
            return self._result(False, before, {"held": False})
        if not self.frame.check_mode:
            try:
                self.frame.api.release_lock(self.holder)
            except ConflictError as exc:
                lock = exc.body.get("lock") if isinstance(exc.body, dict) else before
                return dict(self._result(False, before, lock), msg="The lock changed hands meanwhile; left it alone")
        return self._result(True, before, {"held": False})

    def _result(self, changed: bool, before: dict[str, Any], after: dict[str, Any], **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"changed": changed, "lock": after, "previous": before if before.get("held") else None}
        result.update(extra)
        if self.frame.diff_mode:
            result["diff"] = {"before": before, "after": after}
        return result


ARGUMENT_SPEC: dict[str, Any] = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    holder=dict(type="str", required=True),
    reason=dict(type="str", default=""),
    ttl_seconds=dict(type="int", default=900),
    takeover=dict(type="bool", default=False),
)
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    manager = RollbackLockManager(frame)
    return manager.present() if frame.params["state"] == "present" else manager.absent()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
