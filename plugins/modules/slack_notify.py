#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: slack_notify
short_description: Post a message to a Slack incoming webhook
version_added: 0.1.0
description:
  - Sends one JSON C(POST) to a Slack incoming webhook URL (or any receiver speaking that protocol) and expects
    C(200). 429 and 5xx answers are retried with backoff, honouring C(Retry-After).
  - The webhook URL is a credential; it never appears in the result or in error messages.
  - With no webhook configured (neither O(webhook_url) nor E(SLACK_WEBHOOK_URL)) nothing is sent and the task is
    skipped, so a playbook can always call it.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Builds the payload and returns it without sending.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A message is an event, not managed state; the module reports C(changed=false) and says in RV(sent) whether
        it posted.
options:
  webhook_url:
    description:
      - The incoming webhook URL, for example C(https://hooks.slack.com/services/T000/B000/XXXX).
      - If not set, E(SLACK_WEBHOOK_URL) is used; with neither, nothing is sent and the task is reported as skipped.
    type: str
  text:
    description: Message text (Slack C(mrkdwn)); also the fallback shown in notifications when O(blocks) is set.
    type: str
    required: true
  blocks:
    description: Optional Slack Block Kit blocks.
    type: list
    elements: dict
  validate_certs:
    description: Verify the receiver's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 10
  retries:
    description: Retries after 429, 502, 503, 504 or a connection error.
    type: int
    default: 3
  fail_on_error:
    description:
      - Fail the task when the message cannot be delivered. V(false) reports it instead, as a warning and in
        RV(error), for callers whose own work must not fail because a notification did (a rollback).
    type: bool
    default: true
"""

EXAMPLES = r"""
---
- name: Tell the ops channel
  matbakh.hybrid_routing.slack_notify:
    webhook_url: "{{ vault_slack_webhook_url }}"
    text: ":rotating_light: Level 2 rollback of prod finished in 41s (target 300s)"
"""

RETURN = r"""
sent:
  description: Whether the message was posted (false in check mode).
  returned: always
  type: bool
  sample: true
error:
  description: Why the message was not delivered (with O(fail_on_error=false)); the webhook URL never appears in it.
  returned: when delivery failed
  type: str
  sample: "Slack notification not delivered: POST https://hooks.slack.com/<redacted> answered 404: no_service"
payload:
  description: The JSON body that was (or would be) posted.
  returned: always
  type: dict
  sample: {"text": "Level 1 rollback of prod: success"}
finished_at:
  description:
    - When the module finished, in epoch seconds, by the clock of the host that ran it (the controller for the
      inventories of this collection). The rollback report times its phases from it.
  returned: always
  type: float
  sample: 1796040012.345
"""

from typing import Any

from ansible.module_utils.basic import env_fallback

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import validate_base_url
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._notify import NotificationError, Notifier


def post_message(frame: Frame) -> dict[str, Any]:
    params = frame.params
    payload: dict[str, Any] = {"text": params["text"]}
    if params["blocks"]:
        payload["blocks"] = params["blocks"]
    if not params["webhook_url"]:
        return {"changed": False, "sent": False, "skipped": True, "payload": payload,
                "msg": "No Slack webhook is configured."}
    try:
        url = validate_base_url(params["webhook_url"], option="webhook_url")
    except ValueError:
        frame.fail("webhook_url is not a valid http(s) URL; give the full incoming webhook URL")
    if frame.check_mode:
        return {"changed": False, "sent": False, "payload": payload}
    # The same sender as rollback_notify's (module_utils/_notify.py): one client, one redaction of the URL.
    notifier = Notifier(timeout=params["timeout"], retries=params["retries"], validate_certs=params["validate_certs"])
    try:
        notifier.slack_webhook(url, payload)
    except NotificationError as exc:
        error = f"Slack notification not delivered: {exc}"  # the client already redacted the webhook URL
        if params["fail_on_error"]:
            frame.fail(error, status=exc.status)
        frame.warn(error)
        return {"changed": False, "sent": False, "error": error, "payload": payload}
    return {"changed": False, "sent": True, "payload": payload}


ARGUMENT_SPEC: dict[str, Any] = dict(
    webhook_url=dict(type="str", no_log=True, fallback=(env_fallback, ["SLACK_WEBHOOK_URL"])),
    text=dict(type="str", required=True),
    blocks=dict(type="list", elements="dict"),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="float", default=10.0),
    retries=dict(type="int", default=3),
    fail_on_error=dict(type="bool", default=True),
)
FRAME = Frame
work = post_message


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
