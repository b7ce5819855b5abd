#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_info
short_description: Read the state of the hybrid routing service in one step
version_added: 0.1.0
description:
  - Reads the parts named in O(gather) (health, feature flags, routing, releases, rollback lock) and returns them.
  - Optionally checks that every flag in O(require_flags) exists, failing with the list of known flags if not;
    the rollback preflight uses this to stop bad input before any write.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.admin_api
  - matbakh.hybrid_routing.attributes.READ_ONLY
options:
  gather:
    description: Which parts of the state to read; each is one C(GET).
    type: list
    elements: str
    choices: [health, flags, routing, releases, lock, snapshot]
    default: [health, flags, routing, releases, lock]
  require_flags:
    description: Flag names that must exist. Implies reading the flags.
    type: list
    elements: str
    default: []
  baseline:
    description:
      - The result of an earlier run of this module (its V(flags), V(routing) and V(releases)), to compare the
        service with. RV(differences) then names every flag, the routing and the current release that are not as
        they were. A drill records the baseline before it acts and checks that it leaves the environment as it
        began.
      - Only the parts both read are compared. Nothing fails here; the caller decides.
    type: dict
seealso:
  - module: matbakh.hybrid_routing.state_snapshot
"""

EXAMPLES = r"""
---
- name: Preflight - API reachable, token accepted, flags known, lock state
  matbakh.hybrid_routing.service_info:
    gather: [health, flags, lock]
    require_flags: "{{ hybrid_routing_flags }}"
  register: service

- name: A drill leaves the environment as it began
  matbakh.hybrid_routing.service_info:
    gather: [flags, routing, releases]
    baseline: "{{ drill_baseline }}"
  register: now
  failed_when: now.differences | length > 0
"""

RETURN = r"""
health:
  description: The C(/health) document.
  returned: when O(gather) contains V(health)
  type: dict
  sample: {"status": "healthy", "checks": {}}
flags:
  description: Flag name to enabled.
  returned: when O(gather) contains V(flags) or O(require_flags) is set
  type: dict
  sample: {"hybrid_routing": true}
routing:
  description: The C(/admin/routing) document.
  returned: when O(gather) contains V(routing)
  type: dict
  sample: {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}}
releases:
  description: The C(/admin/releases) document without its history.
  returned: when O(gather) contains V(releases)
  type: dict
  sample: {"current": "2025.01.14-2", "previous": "2025.01.10-1", "deployment": null}
snapshot:
  description: The stored rollback snapshot (see M(matbakh.hybrid_routing.state_snapshot)), or null when none.
  returned: when O(gather) contains V(snapshot)
  type: dict
  sample: {"environment": "prod", "release": {"current": "2025.01.14-2", "previous": "2025.01.10-1"}}
lock:
  description: The C(/admin/locks/rollback) document.
  returned: when O(gather) contains V(lock)
  type: dict
  sample: {"held": false}
differences:
  description: What is not as in O(baseline), one line each (empty when all is as it was).
  returned: when O(baseline) is set
  type: list
  elements: str
  sample: ["flag hybrid_routing is false, was true", "routing mode is mcp_only, was hybrid"]
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


def gather(frame: AdminAPIFrame) -> dict[str, Any]:
    parts = set(frame.params["gather"])
    required = frame.params["require_flags"]
    if required:
        parts.add("flags")
    api = frame.api
    result: dict[str, Any] = {"changed": False}
    if "health" in parts:
        result["health"] = api.health()
    if "flags" in parts:
        result["flags"] = api.flags()
        unknown = sorted(set(required) - set(result["flags"]))
        if unknown:
            frame.fail(
                f"Unknown feature flag(s): {', '.join(unknown)}. The service knows: "
                f"{', '.join(sorted(result['flags']))}. Fix the option require_flags; nothing was changed.",
                unknown=unknown,
            )
    if "routing" in parts:
        result["routing"] = api.routing()
    if "releases" in parts:
        releases = api.releases()
        releases.pop("history", None)
        result["releases"] = releases
    if "lock" in parts:
        result["lock"] = api.lock()
    if "snapshot" in parts:
        stored = api.snapshot()
        result["snapshot"] = stored.get("snapshot") if stored else None
    if frame.params["baseline"] is not None:
        result["differences"] = differences(frame.params["baseline"], result)
    return result


def differences(baseline: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Each flag, the routing (mode and weights) and the current release that differ from the baseline."""
    found = []
    if isinstance(baseline.get("flags"), dict) and "flags" in now:
        for name in sorted(set(baseline["flags"]) | set(now["flags"])):
            was, is_ = baseline["flags"].get(name), now["flags"].get(name)
            if was != is_:
                found.append(f"flag {name} is {_text(is_)}, was {_text(was)}")
    if isinstance(baseline.get("routing"), dict) and "routing" in now:
        for key in ("mode", "weights"):
            was, is_ = baseline["routing"].get(key), now["routing"].get(key)
            if was != is_:
                found.append(f"routing {key} is {_text(is_)}, was {_text(was)}")
    if isinstance(baseline.get("releases"), dict) and "releases" in now:
        was, is_ = baseline["releases"].get("current"), now["releases"].get("current")
        if was != is_:
            found.append(f"release is {_text(is_)}, was {_text(was)}")
    return found


def _text(value: Any) -> str:
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ", ".join(f"{key} {value[key]}" for key in sorted(value))
    return str(value)


ARGUMENT_SPEC: dict[str, Any] = dict(
    gather=dict(
        type="list",
        elements="str",
        default=["health", "flags", "routing", "releases", "lock"],
        choices=["health", "flags", "routing", "releases", "lock", "snapshot"],
    ),
    require_flags=dict(type="list", elements="str", default=[]),
    baseline=dict(type="dict"),
)
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    return gather(frame)


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
