#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lambda_alias
short_description: Point AWS Lambda aliases at given published versions
version_added: 0.1.0
description:
  - For each function in O(versions), points the alias O(alias) at the given published version, recording the
    version before and after.
  - Every function, alias and target version is checked before the first write, so a typo changes nothing.
  - The C(release_revert) role uses it with the versions recorded in the snapshot (the version before the
    pre-incident one), so a re-run never walks a second step back; roll-forward uses it with the pre-incident ones.
  - Then it polls C(GetFunctionConfiguration) on each alias until the alias resolves to the wanted version and that
    version can serve (not C(Pending), no update C(InProgress)), or O(wait_timeout) passes. A version in state
    C(Failed) fails the task at once. Each poll waits for its answer as long as what is left of O(wait_timeout)
    allows, in one attempt; throttling, 5xx answers and missing answers are counted and polling goes on.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.attributes.aws_group
attributes:
  check_mode:
    support: full
    details: Reads the aliases and validates the targets; changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  versions:
    description:
      - Function name to the version its alias must point at, each a published version or one of the words of
        O(version). Give either this or O(functions).
    type: dict
  functions:
    description:
      - Functions whose alias moves, all to O(version). Give either this or O(versions).
      - Not set (and no O(versions)), the functions O(snapshot) recorded.
    type: list
    elements: str
  version:
    description:
      - The version for every one of O(functions).
      - V(previous) is the published version before the pre-incident one recorded in O(snapshot) for that function
        (so a re-run never walks a second step back), or, for a function the snapshot does not record, the version
        before the one the alias points at now.
      - V(recorded) is the version O(snapshot) recorded (a roll-forward).
      - Anything else is a published version number.
    type: str
    default: previous
  snapshot:
    description:
      - The pre-incident snapshot, as M(matbakh.hybrid_routing.state_snapshot) returns it in its C(snapshot) result;
        gives V(previous) and V(recorded) their meaning. Its recorded alias must be O(alias).
    type: dict
  alias:
    description: The alias to move.
    type: str
    default: live
  wait_timeout:
    description: Seconds to wait until every alias serves an active version of the wanted one; V(0) does not wait.
    type: float
    default: 60
  interval:
    description: Seconds between two polls while waiting.
    type: float
    default: 1
"""

EXAMPLES = r"""
---
- name: Point the live aliases back at the previous versions
  matbakh.hybrid_routing.lambda_alias:
    region: eu-central-1
    alias: live
    versions:
      hybrid-router: "2"
      mcp-gateway: "7"
"""

RETURN = r"""
aliases:
  description: Per function, the alias version before and after (predicted in check mode).
  returned: success
  type: dict
  sample: {"hybrid-router": {"before": "3", "after": "2"}}
serving:
  description: Per function, what its alias serves after the wait (version, C(State), C(LastUpdateStatus)).
  returned: when it waited
  type: dict
  sample: {"hybrid-router": {"version": "2", "state": "Active", "last_update": "Successful"}}
wait:
  description:
    - What the polls saw while waiting (the same keys as M(matbakh.hybrid_routing.service_health)'s C(wait)).
  returned: when it waited
  type: dict
  sample: {"polls": 1, "answered": 1, "unanswered": 0, "last_answer_seconds": 0.02, "elapsed": 0.02}
finished_at:
  description:
    - When the module finished, in epoch seconds, by the clock of the host that ran it (the controller for the
      inventories of this collection). The rollback report times its phases from it.
  returned: always
  type: float
  sample: 1796040012.345
"""

from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import (
    AWSAccess,
    AWSFrame,
    AWSTransientError,
    alias_version,
    call,
    published_versions,
    serving_version,
    version_before,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import poll_until, seconds


class LambdaAliasManager:
    def __init__(self, frame: AWSFrame):
        self.frame = frame
        params = frame.params
        self.alias: str = params["alias"]
        if params["versions"] and params["functions"]:
            frame.fail("Give either versions or functions (with version), not both; no Lambda alias was changed.")
        section = (params["snapshot"] or {}).get("lambda") or {}
        if section and section.get("alias") != self.alias:
            frame.fail(f"The snapshot recorded Lambda alias {section.get('alias')!r}, not {self.alias!r}; "
                       "no Lambda alias was changed.")
        self.recorded: dict[str, Any] = section.get("functions") or {}
        if params["versions"]:
            self.wanted = {str(name): str(version) for name, version in params["versions"].items()}
        else:
            # No function named: the ones the snapshot recorded (what a roll-forward puts back).
            names = params["functions"] if params["functions"] is not None else sorted(self.recorded)
            self.wanted = {str(name): params["version"] for name in names}
        if not self.wanted:
            frame.fail("No function named: list the functions whose alias to move (option functions, or versions)")
        frame.check_wait()
        self.access = AWSAccess(frame.params, "lambda")
        self.client = self.access.client

    def run(self) -> dict[str, Any]:
        before: dict[str, str] = {}
        for name, version in sorted(self.wanted.items()):
            before[name] = alias_version(self.client, name, self.alias)
            published = published_versions(self.client, name)
            if version in ("previous", "recorded"):
                self.wanted[name] = version = self._resolve(name, version, before[name], published)
            if version != before[name] and version not in published:
                self.frame.fail(
                    f"{name} has no published version {version!r}; no Lambda alias was changed.", aliases={}
                )
        to_move = {name: version for name, version in self.wanted.items() if before[name] != version}
        after = dict(before)
        for name, version in sorted(to_move.items()):
            if not self.frame.check_mode:
                answer = call(
                    f"Moving alias {self.alias} of {name} to version {version}",
                    self.client.update_alias, FunctionName=name, Name=self.alias, FunctionVersion=version,
                )
                version = str(answer["FunctionVersion"])
            after[name] = version
        result: dict[str, Any] = {
            "changed": bool(to_move),
            "aliases": {name: {"before": before[name], "after": after[name]} for name in sorted(before)},
        }
        if self.frame.diff_mode:
            result["diff"] = {"before": before, "after": after}
        if not self.frame.check_mode and self.frame.params["wait_timeout"] > 0:
            self._wait_serving(after, result)
        return result

    def _resolve(self, name: str, word: str, current: str, published: list[str]) -> str:
        """The version `previous` or `recorded` stands for, from the snapshot when it records the function."""
        recorded = self.recorded.get(name)
        if word == "recorded":
            if not recorded:
                self.frame.fail(f"The snapshot records no version of {name} to put back; no Lambda alias was changed.",
                                aliases={})
            return str(recorded["version"])
        if recorded:
            if not recorded.get("previous"):
                self.frame.fail(f"{name} had no published version before {recorded['version']} when the snapshot was "
                                "taken; name a version (option version). No Lambda alias was changed.", aliases={})
            return str(recorded["previous"])
        previous = version_before(current, published)
        if previous is None:
            self.frame.fail(f"{name} has no published version before {current} to go back to; name a version (option "
                            "version). No Lambda alias was changed.", aliases={})
        return previous

    def _serving(self, wanted: dict[str, str], wait: float) -> dict[str, dict[str, Any]]:
        client = self.access.polling_client(wait)
        return {name: serving_version(client, name, self.alias) for name in sorted(wanted)}

    @staticmethod
    def _settled(wanted: dict[str, str], serving: dict[str, dict[str, Any]]) -> bool:
        """Every alias on its version and that version ready, or one version failed (which waiting cannot mend)."""
        if any(doc["state"] == "Failed" for doc in serving.values()):
            return True
        return all(
            doc["version"] == wanted[name] and doc["state"] != "Pending" and doc["last_update"] != "InProgress"
            for name, doc in serving.items()
        )

    def _wait_serving(self, wanted: dict[str, str], result: dict[str, Any]) -> None:
        wait_timeout = self.frame.params["wait_timeout"]
        outcome = poll_until(
            lambda wait: self._serving(wanted, wait), lambda serving: self._settled(wanted, serving),
            wait_timeout, self.frame.params["interval"], transient=(AWSTransientError,),
        )
        serving = outcome.last_read or {}
        result.update(serving=serving, wait=outcome.summary())
        failed = sorted(name for name, doc in serving.items() if doc["state"] == "Failed")
        if failed:
            self.frame.fail(
                f"Version {', '.join(f'{wanted[n]} of {n}' for n in failed)} is in state Failed and cannot "
                f"serve; the alias {self.alias} now points at it. Check the function, then point the alias at a "
                "working version.", **result)
        if not outcome.done:
            shown = "; ".join(
                f"{name} serves {doc['version']} ({doc['state']}, last update {doc['last_update']})"
                for name, doc in serving.items()
            ) or "no alias could be read"
            self.frame.fail(
                f"The {self.alias} aliases do not serve the wanted versions within {seconds(wait_timeout)}: "
                f"{shown}. {outcome.describe()}.", **result)


ARGUMENT_SPEC: dict[str, Any] = dict(
    versions=dict(type="dict"),
    functions=dict(type="list", elements="str"),
    version=dict(type="str", default="previous"),
    snapshot=dict(type="dict"),
    alias=dict(type="str", default="live"),
    wait_timeout=dict(type="float", default=60.0),
    interval=dict(type="float", default=1.0),
)
FRAME = AWSFrame


def work(frame: AWSFrame) -> dict[str, Any]:
    return LambdaAliasManager(frame).run()


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
