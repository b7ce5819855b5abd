#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: feature_flags
short_description: Set hybrid routing feature flags through the admin API
version_added: 0.1.0
description:
  - Reads the feature flags once, compares them with O(flags) and sends one C(PATCH /admin/feature-flags)
    carrying only the flags that differ. The service applies the whole set atomically.
  - Unknown flag names fail before anything is written, listing the flags the service knows.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.connection
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.admin_api
attributes:
  check_mode:
    support: full
    details: Reads the flags and reports what would change; sends no write.
  diff_mode:
    support: full
    details: Before and after hold the requested flags only.
  idempotent:
    support: full
options:
  flags:
    description:
      - Desired state of each named flag, V(true) for enabled and V(false) for disabled.
      - Flags not named here are left as they are.
    type: dict
    required: true
  only:
    description:
      - Of O(flags), set only these names; the others in O(flags) are left as they are. Empty sets all of O(flags).
      - The roll-forward passes the recorded flags of its snapshot here with the flags the rollback turned off, so
        that it restores only those.
    type: list
    elements: str
    default: []
seealso:
  - module: matbakh.hybrid_routing.service_info
  - module: matbakh.hybrid_routing.state_snapshot
"""

EXAMPLES = r"""
---
- name: Disable the hybrid routing flags (Level 1 rollback)
  matbakh.hybrid_routing.feature_flags:
    api_base: https://api.matbakh.app
    admin_token: "{{ vault_admin_token }}"
    rollback_id: "{{ rollback_id }}"
    flags:
      hybrid_routing: false
      direct_bedrock: false

- name: Same, with the connection set once for the whole play
  module_defaults:
    group/matbakh.hybrid_routing.admin_api:
      api_base: "{{ hybrid_routing_api_base }}"
      admin_token: "{{ hybrid_routing_admin_token }}"
  matbakh.hybrid_routing.feature_flags:
    flags: "{{ dict(hybrid_routing_flags | product([false])) }}"
"""

RETURN = r"""
flags:
  description: End state of every flag the service knows, name to enabled (predicted in check mode).
  returned: success
  type: dict
  sample: {"hybrid_routing": false, "direct_bedrock": false, "pii_redaction": true}
changes:
  description: The flags that changed (or would change), with their state before and after.
  returned: success
  type: dict
  sample: {"hybrid_routing": {"before": true, "after": false}}
diff:
  description: Requested flags before and after, for C(--diff).
  returned: when diff mode is on
  type: dict
  sample: {"before": {"hybrid_routing": true}, "after": {"hybrid_routing": false}}
finished_at:
  description:
    - When the module finished, in epoch seconds, by the clock of the host that ran it (the controller for the
      inventories of this collection). The rollback report times its phases from it.
  returned: always
  type: float
  sample: 1796040012.345
"""

from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._admin_api import AdminAPIFrame
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module


class FeatureFlagManager:
    def __init__(self, frame: AdminAPIFrame):
        self.frame = frame
        self.desired: dict[str, bool] = {}

    def _validate(self) -> None:
        only = set(self.frame.params["only"])
        requested = {name: value for name, value in self.frame.params["flags"].items() if not only or name in only}
        if not requested:
            among = " (of those in only)" if only else ""
            self.frame.fail(f"flags is empty: name at least one flag and its desired state{among}")
        bad = []
        for name, value in requested.items():
            try:
                self.desired[str(name)] = boolean(value, strict=True)
            except TypeError:
                bad.append(str(name))
        if bad:
            self.frame.fail(f"flags must map each name to true or false; not a boolean: {', '.join(sorted(bad))}")

    def run(self) -> dict[str, Any]:
        self._validate()
        current = self.frame.api.flags()
        unknown = sorted(set(self.desired) - set(current))
        if unknown:
            self.frame.fail(
                f"Unknown feature flag(s): {', '.join(unknown)}. Nothing was changed. "
                f"The service knows: {', '.join(sorted(current))}. Fix the option flags.",
                unknown=unknown,
            )
        changes = {
            name: {"before": current[name], "after": wanted}
            for name, wanted in sorted(self.desired.items())
            if current[name] != wanted
        }
        end_state = dict(current)
        if changes:
            patch = {name: change["after"] for name, change in changes.items()}
            if self.frame.check_mode:
                end_state.update(patch)
            else:
                end_state = self.frame.api.set_flags(patch)
                not_applied = sorted(name for name, wanted in patch.items() if end_state.get(name) != wanted)
                if not_applied:
                    self.frame.fail(
                        f"The service accepted the update but these flags did not take the requested state: "
                        f"{', '.join(not_applied)}",
                        flags=end_state,
                    )
        result: dict[str, Any] = {"changed": bool(changes), "flags": end_state, "changes": changes}
        if self.frame.diff_mode:
            result["diff"] = {
                "before": {name: current[name] for name in sorted(self.desired)},
                "after": {name: end_state[name] for name in sorted(self.desired)},
            }
        return result


ARGUMENT_SPEC: dict[str, Any] = dict(flags=dict(type="dict", required=True),
                                     only=dict(type="list", elements="str", default=[]))
FRAME = AdminAPIFrame


def work(frame: AdminAPIFrame) -> dict[str, Any]:
    return FeatureFlagManager(frame).run()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
