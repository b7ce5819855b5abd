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
    lease records, in its C(controller) and C(pid) fields, the host and the C(ansible-playbook) process that took it;
    only a lease whose process still runs on this host refuses a second run of the same holder. A lease taken on
    another controller counts as gone (that host cannot be asked); so does one without a pid.
  - The process is found through C(/proc) on Linux and through C(ps) elsewhere (macOS, BSD); where neither answers,
    no pid is recorded.
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
    type: float
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
finished_at:
  description:
    - When the module finished, in epoch seconds, by the clock of the host that ran it (the controller for the
      inventories of this collection). The rollback report times its phases from it.
  returned: always
  type: float
  sample: 1796040012.345
"""

import os
import socket
import subprocess
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIFrame
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import ConflictError


def _ps(pid: int, field: str) -> str:
    """One field of a process from ps(1), for controllers without /proc; empty when unknown."""
    try:
        done = subprocess.run(["ps", "-p", str(pid), "-o", f"{field}="], capture_output=True, text=True,
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def process_command(pid: int) -> str:
    """The command line of a process, or an empty string when it is gone or cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return "" if os.path.isdir("/proc/self") else _ps(pid, "command")
    except OSError:
        return ""


def parent_pid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return 0
        answer = _ps(pid, "ppid")
        return int(answer) if answer.isdigit() else 0
    except (OSError, ValueError, IndexError):
        return 0


def playbook_pid() -> int | None:
    """The main ansible-playbook process this runs under, if it can be found.

    In the worker (the usual case) it is the parent; as a classic module it is further up. Task workers are forks
    with the same command line, so the outermost ansible-playbook is the run.
    """
    found = None
    pid = os.getppid()
    for _depth in range(12):
        if pid <= 1:
            break
        if "ansible-playbook" in process_command(pid):
            found = pid
        elif found is not None:
            break
        pid = parent_pid(pid)
    return found


def run_alive(lock: dict[str, Any]) -> bool:
    """Whether the run that holds a lease still runs here; a run on another host, or without a pid, counts as gone."""
    pid = lock.get("pid")
    if not isinstance(pid, int) or lock.get("controller") != socket.gethostname():
        return False
    return "ansible-playbook" in process_command(pid)


def describe_lease(lock: dict[str, Any]) -> str:
    text = f"held by {lock.get('holder')} since {lock.get('acquired_at')}"
    if lock.get("reason"):
        text += f" (reason: {lock['reason']})"
    if lock.get("rollback_id"):
        text += f", rollback {lock['rollback_id']}"
    if lock.get("controller"):
        text += f", run on {lock['controller']}" + (f" as pid {lock['pid']}" if lock.get("pid") else "")
    return f"{text}, expires {lock.get('expires_at')}"


class RollbackLockManager:
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        params = frame.params
        self.holder: str = params["holder"]
        self.controller = socket.gethostname()
        self.pid = playbook_pid()
        if not self.holder.strip():
            frame.fail("holder is empty: name who runs the rollback")
        if params["ttl_seconds"] <= 0:
            frame.fail(f"ttl_seconds must be positive, got {params['ttl_seconds']:g}")

    def _held_by_other(self, lock: dict[str, Any]) -> bool:
        return bool(lock.get("held")) and lock.get("holder") != self.holder

    def _own_run_alive(self, lock: dict[str, Any]) -> bool:
        """A lease of this holder taken by another run that still runs on this controller."""
        if not lock.get("held") or lock.get("holder") != self.holder:
            return False
        this_run = lock.get("controller") == self.controller and lock.get("pid") == self.pid
        return not this_run and run_alive(lock)

    def _refuse_own(self, lock: dict[str, Any]) -> None:
        self.frame.fail(
            f"The rollback lock is {describe_lease(lock)}: another run of yours that is still going on this "
            "controller. Let it finish (or stop it; a lock whose run is gone is taken over at once).",
            lock=lock,
        )

    def _refuse(self, lock: dict[str, Any]) -> None:
        self.frame.fail(
            f"The rollback lock is {describe_lease(lock)}. Another rollback is running: wait for it to finish or "
            "for the lease to expire, or take it over with takeover=true (recorded).",
            lock=lock,
        )

    def present(self) -> dict[str, Any]:
        params = self.frame.params
        before = self.frame.api.lock()
        takeover = params["takeover"]
        if self._held_by_other(before) and not takeover:
            self._refuse(before)
        if self._own_run_alive(before) and not takeover:
            self._refuse_own(before)
        taken_over = self._held_by_other(before)
        took_over_own = bool(before.get("held")) and not taken_over
        # A lease read as held (someone else's taken over on request, a gone run of this holder, or one this
        # playbook process took in an earlier rung) is replaced only if it is still the one read above: the service
        # compares its rollback id (`replaces`). A lease read as free is requested without takeover, so of two runs
        # that both saw it free the second gets 409, not the lease.
        replacing = bool(before.get("held"))
        reason = params["reason"]
        if self.frame.check_mode:
            after = {"held": True, "holder": self.holder, "reason": reason, "ttl_seconds": params["ttl_seconds"],
                     "controller": self.controller, "pid": self.pid}
        else:
            try:
                answer = self.frame.api.acquire_lock(self.holder, reason, params["ttl_seconds"], replacing,
                                                     self.controller, self.pid,
                                                     replaces=before.get("rollback_id") if replacing else None)
            except ConflictError as exc:
                lock = exc.body.get("lock") if isinstance(exc.body, dict) else None
                if lock and lock.get("holder") == self.holder:
                    self._refuse_own(lock)
                self._refuse(lock or before)
            after = dict(answer.get("lock") or {}, held=True)
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
    ttl_seconds=dict(type="float", default=900.0),
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
