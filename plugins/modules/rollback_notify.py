#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_notify
short_description: Tell people about a rollback, by level (Slack, e-mail, PagerDuty, a status page)
version_added: 0.3.0
description:
  - "One task per phase of a rollback tells everyone the level calls for (docs/runbook.md, Notifications):"
  - "Slack hears of every finished run: with O(slack_token) through C(chat.postMessage) to O(slack_channel), else
    through the incoming webhook O(slack_webhook_url)."
  - "E-mail goes to O(email_ops_to) from Level 2 and for a roll-forward, and to O(email_management_to) for Level 3,
    sent by M(community.general.mail) through O(smtp_host) (STARTTLS and login as configured)."
  - "PagerDuty (Events API v2): a Level 3 rollback triggers when it starts acting (O(phase=start), O(acting=true))
    and resolves when its recovery is verified; a break-glass Level 2 triggers at its end so that a manager
    confirms it. Every event of one incident carries the same C(dedup_key), built from O(incident), so a re-run or
    an escalation updates the page instead of paging again."
  - "A status page incident (Statuspage's REST API) is opened when a Level 3 rollback starts acting and resolved
    with its recovery; its id is kept in O(state_path). Statuspage has no dedup key, so before opening one the
    module takes over an unresolved incident of the same environment (a run killed before it kept the id would
    otherwise open a second). Drills never touch the status page."
  - Every message carries level, environment, trigger, operator, approver, time against the target and the outcome,
    and starts with C([DRILL]) in a drill.
  - A receiver that fails is retried with backoff (C(Retry-After) honoured), then reported in RV(deliveries) and
    RV(summary); the task itself never fails because a notification did.
  - Webhook URLs, tokens, keys and passwords never appear in the result, in warnings or in messages.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes
attributes:
  check_mode:
    support: full
    details: Composes every message and returns the plan in RV(deliveries) (C(sent=false)); sends nothing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - Messages are events, not managed state (C(changed=false)). PagerDuty events of one incident share a
        C(dedup_key) and a status page incident is opened once per incident, so repeating a run does not page or
        post the incident twice.
options:
  phase:
    description:
      - V(start) when the rollback begins acting (PagerDuty trigger, status page), V(finish) when it ended.
      - V(attention) when an automatic rollback stops short and a person must act (O(report) has C(environment) and
        C(summary)); Slack and a PagerDuty trigger.
    type: str
    choices: [start, finish, attention]
    required: true
  report:
    description:
      - The run. For V(finish) the report M(matbakh.hybrid_routing.rollback_report) returned; for V(start) the run
        M(matbakh.hybrid_routing.rollback_start) returned, with C(trigger) and C(authorization) added.
    type: dict
    required: true
  acting:
    description:
      - With O(phase=start), whether the run is going to turn something off. A re-run after the incident's page was
        resolved pages again only when it does (O(state_path) remembers the page of each incident).
    type: bool
    default: true
  earlier:
    description: The result of this role's V(start) phase of the same run, whose deliveries are reported again with
      these (ignored when it belongs to another run).
    type: raw
  incident:
    description: Names the incident across runs (the dedup key); default the run's rollback id.
    type: str
    default: ""
  drill:
    description: The run is a drill (every message starts with C([DRILL]), PagerDuty severity C(info), no status page).
    type: bool
    default: false
  slack_webhook_url:
    description: Slack incoming webhook URL (a credential); default E(SLACK_WEBHOOK_URL).
    type: str
    default: ""
  slack_token:
    description:
      - Slack bot token for C(chat.postMessage) (a credential); default E(SLACK_TOKEN). Preferred to the webhook.
    type: str
    default: ""
  slack_channel:
    description: Channel of C(chat.postMessage).
    type: str
    default: "#ops-alerts"
  slack_api_url:
    description: Base URL of Slack's Web API.
    type: str
    default: https://slack.com/api
  email_ops_to:
    description: Addresses of the operations list (Level 2 and up, roll-forward).
    type: list
    elements: str
    default: []
  email_management_to:
    description: Addresses of management (Level 3).
    type: list
    elements: str
    default: []
  email_from:
    description: Sender address of the e-mail.
    type: str
    default: hybrid-routing-rollback@localhost
  smtp_host:
    description: SMTP server; empty sends no e-mail.
    type: str
    default: ""
  smtp_port:
    description: SMTP port.
    type: int
    default: 587
  smtp_username:
    description: SMTP login; empty logs in as nobody.
    type: str
    default: ""
  smtp_password:
    description: SMTP password (a credential); default E(SMTP_PASSWORD).
    type: str
    default: ""
  smtp_starttls:
    description: Upgrade the SMTP connection with STARTTLS and refuse to send without it.
    type: bool
    default: true
  pagerduty_routing_key:
    description: PagerDuty Events API v2 integration (routing) key (a credential); default E(PAGERDUTY_ROUTING_KEY).
    type: str
    default: ""
  pagerduty_events_url:
    description: PagerDuty Events API v2 endpoint.
    type: str
    default: https://events.pagerduty.com/v2/enqueue
  statuspage_api_url:
    description: Base URL of the status page API (Statuspage's C(/v1)).
    type: str
    default: https://api.statuspage.io/v1
  statuspage_api_key:
    description: Status page API key (a credential); default E(STATUSPAGE_API_KEY).
    type: str
    default: ""
  statuspage_page_id:
    description: The status page's id; empty (or no key) opens no status page incident.
    type: str
    default: ""
  state_path:
    description: JSON file keeping, per incident, its PagerDuty page (triggered or resolved) and its status page
      incident across runs; empty remembers nothing.
    type: path
    default: ""
  validate_certs:
    description: Verify the receivers' TLS certificates.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 10
  retries:
    description: Retries of a receiver after 429, 502, 503, 504, a connection error, or (e-mail) any failure.
    type: int
    default: 3
seealso:
  - module: matbakh.hybrid_routing.slack_notify
  - module: community.general.mail
"""

EXAMPLES = r"""
---
- name: Tell people a Level 3 rollback finished
  matbakh.hybrid_routing.rollback_notify:
    phase: finish
    report: "{{ hybrid_routing_result }}"
    incident: "{{ snapshot.rollback_id }}"
    slack_token: "{{ vault_slack_token }}"
    email_ops_to: [ops@example.com]
    email_management_to: [cto@example.com]
    smtp_host: smtp.example.com
    smtp_username: rollback-bot
    smtp_password: "{{ vault_smtp_password }}"
    pagerduty_routing_key: "{{ vault_pagerduty_routing_key }}"
  register: notified
"""

RETURN = r"""
deliveries:
  description: One entry per message the run called for, sent or not.
  returned: always
  type: list
  elements: dict
  contains:
    channel:
      description: slack, email, pagerduty or statuspage.
      type: str
    action:
      description: message, trigger, resolve, create.
      type: str
    to:
      description: Channel, recipients or dedup key (never a credential).
      type: str
    sent:
      description: Whether the receiver accepted it (false in check mode).
      type: bool
    error:
      description: Why it was not delivered after the retries, or null.
      type: str
  sample:
    - {"channel": "slack", "action": "message", "to": "#ops-alerts", "sent": true, "error": null}
    - {"channel": "pagerduty", "action": "resolve", "to": "matbakh.hybrid_routing/prod/rb-20261128T120000Z-1a2b",
       "sent": true, "error": null}
email:
  description: The e-mail the run calls for (recipients, subject, body), or null; the action plugin sends it.
  returned: always
  type: dict
failed_channels:
  description: The deliveries that failed, as C(channel action) names.
  returned: always
  type: list
  elements: str
  sample: ["email message"]
rollback_id:
  description: The run these deliveries belong to.
  returned: always
  type: str
  sample: rb-20261128T120000Z-1a2b
summary:
  description: One sentence on what was sent and every failure with its reason.
  returned: always
  type: str
  sample: "Notifications: 2 of 3 sent (slack message to #ops-alerts, pagerduty resolve); email message FAILED: ..."
finished_at:
  description: When the module finished, in epoch seconds (the controller's clock for this collection's inventories).
  returned: always
  type: float
  sample: 1796040012.345
"""

from typing import Any

from ansible.module_utils.basic import env_fallback

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import validate_base_url
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._notify import (
    NotificationError,
    Notifier,
    dedup_key,
    email_plan,
    pagerduty_event,
    pagerduty_plan,
    read_state,
    slack_message,
    summarize,
    write_state,
)

URL_OPTIONS = ("slack_api_url", "pagerduty_events_url", "statuspage_api_url")


def _delivery(channel: str, action: str, to: str, error: str | None = None, sent: bool = False) -> dict[str, Any]:
    return {"channel": channel, "action": action, "to": to, "sent": sent, "error": error}


class Notification:
    """Plans the messages of one phase, then sends them (not in check mode)."""

    def __init__(self, frame: Frame):
        self.frame = frame
        self.params = frame.params
        self.report: dict[str, Any] = self.params["report"]
        self.phase: str = self.params["phase"]
        self.drill: bool = self.params["drill"]
        self.environment = str(self.report.get("environment"))
        incident = self.params["incident"] or self.report.get("rollback_id") or self.report.get("id") or "unknown"
        self.key = dedup_key(self.environment, str(incident))
        self.notifier = Notifier(timeout=self.params["timeout"], retries=self.params["retries"],
                                 validate_certs=self.params["validate_certs"])
        self.deliveries: list[dict[str, Any]] = []
        # What earlier runs of this incident sent (open or resolved page, the status page incident's id).
        self.state_path: str = self.params["state_path"]
        self.state = read_state(self.state_path) if self.state_path else {}
        self.incident: dict[str, Any] = self.state.get(self.key, {})
        # A Level 3 start pages unless this incident's page was resolved and the run has nothing to turn off (a
        # re-run after a verified recovery); an escalation (a break-glass Level 2 paged) updates the open page.
        self.acting = bool(self.params["acting"]) or self.incident.get("status") != "resolved"

    def _send(self, delivery: dict[str, Any], send: Any) -> None:
        self.deliveries.append(delivery)
        if self.frame.check_mode:
            return
        try:
            send()
        except NotificationError as exc:
            delivery["error"] = str(exc)
        else:
            delivery["sent"] = True

    def slack(self) -> None:
        if self.phase == "start":
            return
        message = slack_message(self.report, self.phase, self.drill)
        token, webhook = self.params["slack_token"], self.params["slack_webhook_url"]
        if token:
            channel = self.params["slack_channel"]
            self._send(_delivery("slack", "message", channel), lambda: self.notifier.slack_post(
                self.params["slack_api_url"], token, channel, message))
        elif webhook:
            self._send(_delivery("slack", "message", "incoming webhook"),
                       lambda: self.notifier.slack_webhook(webhook, message))

    def _remember(self, **values: Any) -> None:
        if self.state_path:
            self.state.setdefault(self.key, {}).update(values)
            write_state(self.state_path, self.state)

    def pagerduty(self) -> None:
        routing_key = self.params["pagerduty_routing_key"]
        action = pagerduty_plan(self.report, self.phase, self.acting)
        if not routing_key or action is None:
            return
        event = pagerduty_event(self.report, self.phase, action, self.key, self.drill, routing_key)

        def send() -> None:
            self.notifier.pagerduty(self.params["pagerduty_events_url"], event)
            if self.phase != "attention":
                self._remember(status="resolved" if action == "resolve" else "open")
        self._send(_delivery("pagerduty", action, self.key), send)

    def statuspage(self) -> None:
        api_key, page_id = self.params["statuspage_api_key"], self.params["statuspage_page_id"]
        action = pagerduty_plan(self.report, self.phase, self.acting)
        if not api_key or not page_id or self.drill or action is None or int(self.report.get("level") or 0) < 3:
            return
        known = self.incident.get("statuspage_incident")
        incidents = f"{self.params['statuspage_api_url'].rstrip('/')}/pages/{page_id}/incidents"
        environment = self.environment
        name = f"Degraded AI responses ({environment})"
        if action == "trigger" and not known:
            def create() -> None:
                # Statuspage has no dedup key. A run killed between its POST and remembering the id would open a
                # second public incident on the re-run, so an unresolved incident of this environment is taken over.
                # A listing that fails does not hold the incident back: a duplicate is better than none.
                try:
                    unresolved = self.notifier.statuspage_unresolved(incidents, api_key)
                except NotificationError:
                    unresolved = []
                incident_id = next((item["id"] for item in unresolved if item.get("name") == name and item.get("id")),
                                   None)
                if incident_id is None:
                    incident_id = self.notifier.statuspage("POST", incidents, api_key, {"incident": {
                        "name": name, "status": "identified",
                        "body": "We identified a problem with AI responses and are rolling back a change."}}).get("id")
                self._remember(status="open", statuspage_incident=incident_id)
            self._send(_delivery("statuspage", "create", environment), create)
        elif action == "resolve" and known:
            def resolve() -> None:
                self.notifier.statuspage("PATCH", f"{incidents}/{known}", api_key, {"incident": {
                    "status": "resolved", "body": "The change was rolled back and responses are healthy again."}})
                self._remember(status="resolved", statuspage_incident=None)
            self._send(_delivery("statuspage", "resolve", environment), resolve)

    def email(self) -> dict[str, Any] | None:
        if self.phase != "finish" or not self.params["smtp_host"] or self.report.get("dry_run"):
            return None
        return email_plan(self.report, self.drill, self.params["email_ops_to"], self.params["email_management_to"])


def notify(frame: Frame) -> dict[str, Any]:
    params = frame.params
    for option in URL_OPTIONS:
        try:
            validate_base_url(params[option], option=option)
        except ValueError as exc:
            frame.fail(f"{exc}. Nothing was sent.")
    if params["smtp_host"] and not params["email_from"]:
        frame.fail("email_from is empty: give the sender address of the rollback e-mail. Nothing was sent.")
    notification = Notification(frame)
    # Paging first: it is the message that must get out even if a slower receiver eats the time.
    notification.pagerduty()
    notification.statuspage()
    notification.slack()
    email = notification.email()
    earlier = params["earlier"] if isinstance(params["earlier"], dict) else {}
    rollback_id = params["report"].get("rollback_id") or params["report"].get("id")
    deliveries = (list(earlier.get("deliveries") or []) if rollback_id and earlier.get("rollback_id") == rollback_id
                  else []) + notification.deliveries
    if email is not None:
        deliveries.append(_delivery("email", "message", ", ".join(email["to"] + email["cc"])))
    return {"changed": False, "rollback_id": rollback_id, "deliveries": deliveries, "email": email,
            "failed_channels": [f"{item['channel']} {item['action']}" for item in deliveries if item["error"]],
            "summary": summarize(deliveries)}


ARGUMENT_SPEC: dict[str, Any] = dict(
    phase=dict(type="str", required=True, choices=["start", "finish", "attention"]),
    report=dict(type="dict", required=True),
    acting=dict(type="bool", default=True),
    earlier=dict(type="raw"),
    incident=dict(type="str", default=""),
    drill=dict(type="bool", default=False),
    slack_webhook_url=dict(type="str", default="", no_log=True, fallback=(env_fallback, ["SLACK_WEBHOOK_URL"])),
    slack_token=dict(type="str", default="", no_log=True, fallback=(env_fallback, ["SLACK_TOKEN"])),
    slack_channel=dict(type="str", default="#ops-alerts"),
    slack_api_url=dict(type="str", default="https://slack.com/api"),
    email_ops_to=dict(type="list", elements="str", default=[]),
    email_management_to=dict(type="list", elements="str", default=[]),
    email_from=dict(type="str", default="hybrid-routing-rollback@localhost"),
    smtp_host=dict(type="str", default=""),
    smtp_port=dict(type="int", default=587),
    smtp_username=dict(type="str", default=""),
    smtp_password=dict(type="str", default="", no_log=True, fallback=(env_fallback, ["SMTP_PASSWORD"])),
    smtp_starttls=dict(type="bool", default=True),
    pagerduty_routing_key=dict(type="str", default="", no_log=True,
                               fallback=(env_fallback, ["PAGERDUTY_ROUTING_KEY"])),
    pagerduty_events_url=dict(type="str", default="https://events.pagerduty.com/v2/enqueue"),
    statuspage_api_url=dict(type="str", default="https://api.statuspage.io/v1"),
    statuspage_api_key=dict(type="str", default="", no_log=True, fallback=(env_fallback, ["STATUSPAGE_API_KEY"])),
    statuspage_page_id=dict(type="str", default=""),
    state_path=dict(type="path", default=""),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="float", default=10.0),
    retries=dict(type="int", default=3),
)
FRAME = Frame
work = notify


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
