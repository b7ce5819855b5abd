# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: >-
      When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
  action:
    description: >-
      Indicates this has a corresponding action plugin so some parts of the options can be executed on the
      controller.
    support: full
    details:
      - When the task runs on the controller (C(ansible_connection=local), as in every inventory of this collection),
        the action plugin runs the module's code inside the Ansible worker instead of starting a new Python process;
        results, check mode, diff and C(no_log) are the same. On another host (or with C(become)) it runs as a
        classic module.
"""

    # A controller action with no module to run on a host (it reads the run's facts, files or the controller's
    # clock); one place for what the six such plugins would otherwise each say.
    CONTROLLER_ONLY = r"""
options: {}
attributes:
  action:
    support: full
    details: Runs only on the controller; there is no module to run on a host.
"""

    ADMIN_API = r"""
options: {}
attributes:
  action_group:
    description: >-
      Use C(group/matbakh.hybrid_routing.admin_api) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - matbakh.hybrid_routing.admin_api
"""

    AWS_GROUP = r"""
options: {}
attributes:
  action_group:
    description: >-
      Use C(group/matbakh.hybrid_routing.aws) in C(module_defaults) to set the AWS options once.
    support: full
    membership:
      - matbakh.hybrid_routing.aws
"""

    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads, so it behaves the same in check mode.
  diff_mode:
    description: >-
      Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: >-
      When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
"""
