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
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.aws
  - matbakh.hybrid_routing.attributes
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
      - Function name to the published version its alias must point at.
      - V(previous) means the published version before the one the alias points at now (the rollback preflight
        uses it in check mode to prove there is one).
    type: dict
    required: true
  alias:
    description: The alias to move.
    type: str
    default: live
"""

EXAMPLES = r"""
---
- name: Point the live aliases back at the previous versions
  matbakh.hybrid_routing.lambda_alias:
    aws_region: eu-central-1
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
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import (
    AWS_ARGSPEC,
    BOTO3_IMPORT_ERROR,
    HAS_BOTO3,
    AWSError,
    alias_version,
    call,
    lambda_client,
    published_versions,
    version_before,
)


class LambdaAliasManager:
    def __init__(self, module: AnsibleModule):
        self.module = module
        self.alias: str = module.params["alias"]
        self.wanted = {str(name): str(version) for name, version in module.params["versions"].items()}
        if not self.wanted:
            module.fail_json(msg="versions is empty: name at least one function and the version to point it at")
        self.client = lambda_client(module.params)

    def run(self) -> dict[str, Any]:
        before: dict[str, str] = {}
        for name, version in sorted(self.wanted.items()):
            before[name] = alias_version(self.client, name, self.alias)
            published = published_versions(self.client, name)
            if version == "previous":
                previous = version_before(before[name], published)
                if previous is None:
                    self.module.fail_json(
                        msg=f"{name} has no published version before {before[name]} to go back to; "
                        "no Lambda alias was changed.", aliases={}
                    )
                self.wanted[name] = version = previous
            if version != before[name] and version not in published:
                self.module.fail_json(
                    msg=f"{name} has no published version {version!r}; no Lambda alias was changed.", aliases={}
                )
        to_move = {name: version for name, version in self.wanted.items() if before[name] != version}
        after = dict(before)
        for name, version in sorted(to_move.items()):
            if not self.module.check_mode:
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
        if self.module._diff:
            result["diff"] = {"before": before, "after": after}
        return result


def main() -> None:
    argument_spec = dict(AWS_ARGSPEC)
    argument_spec.update(
        versions=dict(type="dict", required=True),
        alias=dict(type="str", default="live"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)
    try:
        module.exit_json(**LambdaAliasManager(module).run())
    except AWSError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
