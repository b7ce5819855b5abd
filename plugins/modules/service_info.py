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
    return result


ARGUMENT_SPEC: dict[str, Any] = dict(
    gather=dict(
        type="list",
        elements="str",
        default=["health", "flags", "routing", "releases", "lock"],
        choices=["health", "flags", "routing", "releases", "lock", "snapshot"],
    ),
    require_flags=dict(type="list", elements="str", default=[]),
)
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    return gather(frame)


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
