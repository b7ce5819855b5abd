#!/usr/bin/python
# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_notify
short_description: Tell people about a rollback, by level (Slack, e-mail, PagerDuty, a status page, the hotline)
version_added: 0.3.0
description:
  - "One task per phase of a rollback tells everyone the level calls for (docs/runbook.md, Notifications):"
  - "Slack hears of every finished run: with O(slack_token) through C(chat.postMessage) to O(slack_channel), else
    through the incoming webhook O(slack_webhook_url)."
  - "E-mail goes to O(email_ops_to) from Level 2 and for a roll-forward, and to O(email_management_to) for Level 3,
    through O(smtp_host) (STARTTLS, verified as O(validate_certs) says, and login as configured)."
  - "PagerDuty (Events API v2): a Level 3 rollback triggers when it starts acting (O(phase=start), O(acting=true))
    and resolves when its recovery is verified; a break-glass Level 2 triggers at its end so that a manager
    confirms it. Every event of one incident carries the same C(dedup_key), built from O(incident), so a re-run or
    an escalation updates the page instead of paging again."
  - "A status page incident (Statuspage's REST API) is opened when a Level 3 rollback starts acting and resolved
    with its recovery; its id is kept in O(state_path). Statuspage has no dedup key, so before opening one the
    module takes over an unresolved incident of the same environment (a run killed before it kept the id would
    otherwise open a second). Drills never touch the status page."
  - "The hotline (O(phone_numbers)) gets an SMS through Amazon SNS when a Level 3 rollback starts acting and when an
    automatic rollback needs a person, and at the end of a Level 3 whose start could not reach it; never in a drill.
    The numbers are personal data: they never appear in the result, the output or the audit trail."
  - Every message carries level, environment, trigger, operator, approver, time against the target and the outcome,
    and starts with C([DRILL]) in a drill.
  - "All receivers of a phase are sent at once, each in a thread of its own, within one budget (O(budget)) for the
    phase, retries included: none waits on another. A receiver that fails is retried with backoff (C(Retry-After)
    honoured, unless it is past the budget) while the budget lasts; one that has not answered when the budget is
    spent counts as not delivered. Both are reported in RV(deliveries) and RV(summary); the task itself never fails
    because a notification did."
  - "On the controller, O(phase=start) is sent from a process of its own: the task returns the plan at once (with
    RV(background)), so the rollback's actions do not wait on any receiver; O(phase=finish) of the same run, given
    that result as O(earlier), waits for what it sent (within its own budget) and sends again, with the same
    C(dedup_key), a PagerDuty trigger that did not get out, before resolving it."
  - Webhook URLs, tokens, keys and passwords never appear in the result, in warnings or in messages.
author:
  - matbakh platform team (@matbakh)
extends_documentation_fragment:
  - matbakh.hybrid_routing.attributes
  - matbakh.hybrid_routing.aws
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
  action_group:
    description: >-
      Use C(group/matbakh.hybrid_routing.receivers) in C(module_defaults) to set the receivers (and
      O(validate_certs), O(budget)) once, and C(group/matbakh.hybrid_routing.aws) for the AWS options of the
      hotline's SMS.
    support: full
    membership:
      - matbakh.hybrid_routing.aws
      - matbakh.hybrid_routing.receivers
options:
  phase:
    description:
      - V(start) when the rollback begins acting (PagerDuty trigger, status page), V(finish) when it ended.
      - V(attention) when an automatic rollback stops short and a person must act (O(report) has C(environment) and
        C(summary)); Slack and a PagerDuty trigger.
      - V(fleet) after each wave of a fleet (O(report) is the fleet M(matbakh.hybrid_routing.fleet_summary)
        returned) - one Slack message for the wave, and the fleet's one page, triggered when an environment failed
        and resolved when the fleet finished without one.
    type: str
    choices: [start, finish, attention, fleet]
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
  fleet:
    description:
      - Names the fleet this environment is rolled back with (the frame gives it where the play has more than one
        environment). Its page is then the fleet's (one PagerDuty incident, whichever environment pages, resolved
        by the V(fleet) phase), and Slack hears of it in the fleet's message, not in one of its own.
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
  phone_numbers:
    description:
      - The hotline's phone numbers (E.164), each sent an SMS through Amazon SNS (the AWS options; a region is
        needed). Personal data, never logged.
    type: list
    elements: str
    default: []
  state_path:
    description:
      - JSON file keeping, per incident, its PagerDuty page (triggered or resolved) and its status page incident
        across runs; empty remembers nothing.
      - V(s3://bucket/key) keeps it in the shared store (the AWS options apply), written only over the version read
        (If-Match), so that every controller and job of an environment shares it.
    type: path
    default: ""
  validate_certs:
    description: Verify the receivers' TLS certificates.
    type: bool
    default: true
  budget:
    description:
      - Seconds this phase gets, for all its receivers and their retries together. Must be more than 0.
    type: float
    default: 10
  timeout:
    description: Seconds to wait for each answer (never past the budget).
    type: float
    default: 10
  retries:
    description:
      - Retries of a receiver after 429, 502, 503, 504, a connection error, or (e-mail) a temporary (4yz) refusal or a
        failed connection, while the budget lasts.
    type: int
    default: 3
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
    phone_numbers: "{{ vault_hotline_numbers }}"
    region: eu-central-1
    budget: 10
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
      description: slack, email, pagerduty, statuspage or phone.
      type: str
    action:
      description: message, trigger, resolve, create, sms.
      type: str
    to:
      description: Channel, recipients, dedup key or how many hotline numbers (never a credential, never a number).
      type: str
    phase:
      description: The phase that sent it (start, finish, attention).
      type: str
    sent:
      description: Whether the receiver accepted it (false in check mode).
      type: bool
    error:
      description: Why it was not delivered after the retries, or null.
      type: str
  sample:
    - {"channel": "slack", "action": "message", "to": "#ops-alerts", "phase": "finish", "sent": true, "error": null}
    - {"channel": "pagerduty", "action": "resolve", "to": "matbakh.hybrid_routing/prod/rb-20261128T120000Z-1a2b",
       "phase": "finish", "sent": true, "error": null}
    - {"channel": "email", "action": "message", "to": "ops@example.com", "phase": "finish", "sent": false,
       "error": "no answer within the notification budget of 10s"}
background:
  description:
    - O(phase=start) on the controller, not in check mode - the process sending it; RV(deliveries) is then the plan
      (C(sent=false)) and O(phase=finish) reads the outcome.
  returned: when the phase is sent in the background
  type: dict
  contains:
    result_path:
      description: The file (mode 0600) the process writes its result to; the finish phase reads and removes it.
      type: str
    pid:
      description: The process id.
      type: int
    deadline:
      description: By when (epoch seconds) the process will have written its result.
      type: float
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

import contextlib
import json
import os
import threading
import time
from typing import Any

from ansible.module_utils.basic import env_fallback

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import (
    AWS_ARGSPEC,
    HAS_BOTO3,
    AWSAccess,
    AWSError,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, run_as_module
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import validate_base_url
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._notify import (
    VERIFIED_OUTCOMES,
    Budget,
    Job,
    NotificationError,
    Notifier,
    dedup_key,
    deliver,
    email_plan,
    fleet_pagerduty_plan,
    fleet_slack_message,
    headline,
    pagerduty_event,
    pagerduty_plan,
    read_state,
    slack_message,
    summarize,
    update_state,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._records import RecordsError

URL_OPTIONS = ("slack_api_url", "pagerduty_events_url", "statuspage_api_url")
# How often the end of a run looks for the result of its start phase, sent in the background.
START_RESULT_POLL = 0.05


def _delivery(channel: str, action: str, to: str, phase: str) -> dict[str, Any]:
    return {"channel": channel, "action": action, "to": to, "phase": phase, "sent": False, "error": None}


def _hotline(count: int) -> str:
    # Phone numbers are personal data: deliveries (and so the audit trail) name only how many there are.
    return f"{count} hotline number{'s' if count != 1 else ''}"


class NotifyFrame(Frame):
    """The AWS options, for the hotline's SNS; boto3 is needed only when there are numbers to send to."""

    @classmethod
    def argument_spec(cls, module_spec: dict[str, Any]) -> dict[str, Any]:
        return dict(AWS_ARGSPEC, **module_spec)


class StartPhase:
    """The start phase of this run, as the end of the run sees it: sent in the background (the action plugin's
    result names the file its process writes), or in the same task (a module on another host)."""

    def __init__(self, earlier: dict[str, Any], budget: Budget):
        self.earlier = earlier
        self.budget = budget
        self._lock = threading.Lock()
        self._result: dict[str, Any] | None = None

    def result(self) -> dict[str, Any]:
        """The start's deliveries; waits for a background start at most until this phase's budget is spent."""
        with self._lock:
            if self._result is None:
                self._result = self._settle()
            return self._result

    def _settle(self) -> dict[str, Any]:
        background = self.earlier.get("background")
        if not isinstance(background, dict):
            return self.earlier
        path = str(background.get("result_path") or "")
        while True:
            try:
                with open(path, encoding="utf-8") as handle:
                    found = json.load(handle)
            except (OSError, ValueError):
                found = None
            if isinstance(found, dict) and "deliveries" in found:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                return found
            if self.budget.left() <= START_RESULT_POLL or time.time() > float(background.get("deadline") or 0) + 2:
                break
            time.sleep(START_RESULT_POLL)
        # Its process did not finish in time: what it planned counts as not delivered.
        deliveries = [dict(item, error=item.get("error") or self.budget.spent()) if not item.get("sent") else item
                      for item in self.earlier.get("deliveries") or []]
        return dict(self.earlier, deliveries=deliveries)

    def delivered(self, channel: str, action: str) -> bool | None:
        """Whether the start sent it (None: the start did not plan it)."""
        found = [item for item in self.result().get("deliveries") or []
                 if item.get("channel") == channel and item.get("action") == action]
        return any(item.get("sent") for item in found) if found else None


class Notification:
    """Plans the messages of one phase as one job per receiver, then sends them all at once within the budget
    (not in check mode)."""

    def __init__(self, frame: Frame):
        self.frame = frame
        self.params = frame.params
        self.report: dict[str, Any] = self.params["report"]
        self.phase: str = self.params["phase"]
        self.drill: bool = self.params["drill"]
        self.environment = str(self.report.get("environment"))
        self.rollback_id = self.report.get("rollback_id") or self.report.get("id")
        incident = self.params["incident"] or self.rollback_id or "unknown"
        # In a fleet, every environment's page is the fleet's: one PagerDuty incident, whichever environment pages.
        self.fleet: str = self.params["fleet"]
        self.key = dedup_key("fleet", self.fleet) if self.fleet else dedup_key(self.environment, str(incident))
        self.budget = Budget(self.params["budget"])
        self.notifier = Notifier(timeout=self.params["timeout"], retries=self.params["retries"],
                                 validate_certs=self.params["validate_certs"], budget=self.budget)
        earlier = self.params["earlier"] if isinstance(self.params["earlier"], dict) else {}
        same_run = bool(self.rollback_id) and earlier.get("rollback_id") == self.rollback_id
        self.start = StartPhase(earlier if same_run and self.phase == "finish" else {}, self.budget)
        # What earlier runs of this incident sent (open or resolved page, the status page incident's id). A start
        # still sending in the background writes it too: the receivers that need it read it once that has ended.
        self.state_path: str = self.params["state_path"]
        self._state_lock = threading.Lock()
        self.state_error: str | None = None
        self.incident: dict[str, Any] = self._read_incident()
        # A Level 3 start pages unless this incident's page was resolved and the run has nothing to turn off (a
        # re-run after a verified recovery); an escalation (a break-glass Level 2 paged) updates the open page.
        self.acting = bool(self.params["acting"]) or self.incident.get("status") != "resolved"
        self.jobs: list[Job] = []

    def _read_incident(self) -> dict[str, Any]:
        return read_state(self.state_path, self.params).get(self.key, {}) if self.state_path else {}

    def _remember(self, **values: Any) -> None:
        if self.state_path:
            with self._state_lock:
                try:
                    update_state(self.state_path, self.key, values, self.params)
                except RecordsError as exc:
                    # Reported with the run's notifications; the message that was sent stays sent.
                    self.state_error = str(exc)

    def _after_start(self) -> None:
        """For a receiver whose message depends on what the start sent: wait for it, then read the state again."""
        if self.start.earlier.get("background"):
            self.start.result()
            self.incident = self._read_incident()

    def slack(self) -> None:
        # In a fleet, Slack gets the fleet's one message per wave (phase fleet), not one per environment.
        if self.phase == "start" or (self.fleet and self.phase == "finish"):
            return
        message = fleet_slack_message(self.report, self.drill) if self.phase == "fleet" \
            else slack_message(self.report, self.phase, self.drill)
        token, webhook = self.params["slack_token"], self.params["slack_webhook_url"]
        if token:
            channel = self.params["slack_channel"]
            delivery = _delivery("slack", "message", channel, self.phase)
            self.jobs.append(Job(lambda job: job.send(delivery, lambda: self.notifier.slack_post(
                self.params["slack_api_url"], token, channel, message)), delivery))
        elif webhook:
            delivery = _delivery("slack", "message", "incoming webhook", self.phase)
            self.jobs.append(Job(lambda job: job.send(delivery, lambda: self.notifier.slack_webhook(webhook, message)),
                                 delivery))

    def pagerduty(self) -> None:
        routing_key = self.params["pagerduty_routing_key"]
        if self.phase == "fleet":
            action = fleet_pagerduty_plan(self.report, self.incident.get("status"))
        else:
            action = pagerduty_plan(self.report, self.phase, self.acting)
            if self.fleet and action == "resolve":
                action = None  # the fleet's page is resolved once the fleet has finished (phase fleet)
        if not routing_key or action is None:
            return
        url = self.params["pagerduty_events_url"]
        delivery = _delivery("pagerduty", action, self.key, self.phase)

        def event(what: str) -> dict[str, Any]:
            return pagerduty_event(self.report, self.phase, what, self.key, self.drill, routing_key)

        def remember(what: str) -> None:
            if self.phase != "attention":
                self._remember(status="resolved" if what == "resolve" else "open")

        def run(job: Job) -> None:
            # A start page that did not get out is sent now, with the same dedup key, before its resolve: PagerDuty
            # still gets the incident, once.
            self._after_start()
            if action == "resolve" and self.start.delivered("pagerduty", "trigger") is False:
                late = job.add(_delivery("pagerduty", "trigger", self.key, self.phase), before=delivery)
                if job.send(late, lambda: self.notifier.pagerduty(url, event("trigger"))):
                    remember("trigger")
            if job.send(delivery, lambda: self.notifier.pagerduty(url, event(action))):
                remember(action)
        self.jobs.append(Job(run, delivery))

    def statuspage(self) -> None:
        api_key, page_id = self.params["statuspage_api_key"], self.params["statuspage_page_id"]
        if self.phase == "fleet":
            return  # each environment has its own status page incident
        action = pagerduty_plan(self.report, self.phase, self.acting)
        if not api_key or not page_id or self.drill or action is None or int(self.report.get("level") or 0) < 3:
            return
        incidents = f"{self.params['statuspage_api_url'].rstrip('/')}/pages/{page_id}/incidents"
        environment = self.environment
        name = f"Degraded AI responses ({environment})"
        # Open when the incident starts (or, at the end, when it did not recover and none is open); resolve with the
        # recovery. A recovered run whose start could not open one publishes nothing after the fact.
        if action == "trigger":
            if self.incident.get("statuspage_incident") and not self.start.earlier.get("background"):
                return
            delivery = _delivery("statuspage", "create", environment, self.phase)

            def create(job: Job) -> None:
                self._after_start()
                if self.incident.get("statuspage_incident"):
                    job.drop(delivery)
                    return

                def send() -> None:
                    # Statuspage has no dedup key. A run killed between its POST and remembering the id would open
                    # a second public incident on the re-run, so an unresolved incident of this environment is
                    # taken over. A listing that fails does not hold the incident back: a duplicate is better
                    # than none.
                    try:
                        unresolved = self.notifier.statuspage_unresolved(incidents, api_key)
                    except NotificationError:
                        unresolved = []
                    incident_id = next((item["id"] for item in unresolved
                                        if item.get("name") == name and item.get("id")), None)
                    if incident_id is None:
                        incident_id = self.notifier.statuspage("POST", incidents, api_key, {"incident": {
                            "name": name, "status": "identified",
                            "body": "We identified a problem with AI responses and are rolling back a change."}}
                        ).get("id")
                    self._remember(status="open", statuspage_incident=incident_id)
                job.send(delivery, send)
            self.jobs.append(Job(create, delivery))
        elif action == "resolve":
            if not self.incident.get("statuspage_incident") and not self.start.earlier.get("background"):
                return
            delivery = _delivery("statuspage", "resolve", environment, self.phase)

            def resolve(job: Job) -> None:
                self._after_start()
                known = self.incident.get("statuspage_incident")
                if not known:
                    job.drop(delivery)
                    return

                def send() -> None:
                    self.notifier.statuspage("PATCH", f"{incidents}/{known}", api_key, {"incident": {
                        "status": "resolved", "body": "The change was rolled back and responses are healthy again."}})
                    self._remember(status="resolved", statuspage_incident=None)
                job.send(delivery, send)
            self.jobs.append(Job(resolve, delivery))

    def phone(self) -> None:
        """SMS to the hotline: when Level 3 starts acting, when an automatic rollback needs a person, and at the end
        of a Level 3 whose start could not reach it or that failed before it started."""
        numbers: list[str] = self.params["phone_numbers"]
        skipped = self.phase == "fleet" or self.drill or self.report.get("dry_run")
        if not numbers or skipped or self.report.get("direction") == "forward":
            return
        level = int(self.report.get("level") or 0)
        if self.phase == "start" and not pagerduty_plan(self.report, "start", self.acting):
            return
        if self.phase == "finish" and level < 3:
            return
        text = headline(self.report, self.phase, False)
        text += f": {self.report.get('summary')}" if self.phase != "start" and self.report.get("summary") else ""
        delivery = _delivery("phone", "sms", _hotline(len(numbers)), self.phase)

        def run(job: Job) -> None:
            if self.phase == "finish":
                self._after_start()
                started = self.start.delivered("phone", "sms")
                if started or (started is None and self.report.get("outcome") in VERIFIED_OUTCOMES):
                    job.drop(delivery)  # the hotline heard of this run already, or has nothing to act on
                    return
            job.send(delivery, lambda: self.notifier.sms(self._sns(), numbers, text))
        self.jobs.append(Job(run, delivery))

    def _sns(self) -> Any:
        """An SNS client whose one attempt waits at most what is left of the budget."""
        if not HAS_BOTO3:
            raise NotificationError("the hotline SMS needs boto3 on the controller (pip install boto3)")
        try:
            return AWSAccess(self.params, "sns").polling_client(max(0.1, self.budget.left()))
        except AWSError as exc:
            raise NotificationError(str(exc)) from None

    def email(self) -> dict[str, Any] | None:
        if self.phase != "finish" or not self.params["smtp_host"] or self.report.get("dry_run"):
            return None
        email = email_plan(self.report, self.drill, self.params["email_ops_to"], self.params["email_management_to"])
        if email is None:
            return None
        smtp = {"host": self.params["smtp_host"], "port": self.params["smtp_port"],
                "sender": self.params["email_from"], "starttls": self.params["smtp_starttls"],
                "username": self.params["smtp_username"], "password": self.params["smtp_password"]}
        delivery = _delivery("email", "message", ", ".join(email["to"] + email["cc"]), self.phase)
        self.jobs.append(Job(lambda job: job.send(delivery, lambda: self.notifier.email(smtp, email)), delivery))
        return email

    def send(self) -> list[dict[str, Any]]:
        # Planned in this order (paging first), sent all at once.
        self.pagerduty()
        self.statuspage()
        self.phone()
        self.slack()
        self.email()
        if self.frame.check_mode:
            return [delivery for job in self.jobs for delivery in job.deliveries]
        return deliver(self.jobs, self.budget)


def notify(frame: Frame) -> dict[str, Any]:
    params = frame.params
    for option in URL_OPTIONS:
        try:
            validate_base_url(params[option], option=option)
        except ValueError as exc:
            frame.fail(f"{exc}. Nothing was sent.")
    if params["smtp_host"] and not params["email_from"]:
        frame.fail("email_from is empty: give the sender address of the rollback e-mail. Nothing was sent.")
    if params["budget"] <= 0:
        frame.fail(f"budget must be more than 0 seconds (got {params['budget']:g}): it is the time every receiver "
                   "of one phase gets together. Nothing was sent.")
    notification = Notification(frame)
    sent = notification.send()
    earlier = notification.start.result() if notification.start.earlier else {}
    deliveries = list(earlier.get("deliveries") or []) + sent
    summary = summarize(deliveries)
    if notification.state_error:
        summary += f" The incident's notification state was not kept: {notification.state_error}"
    return {"changed": False, "rollback_id": notification.rollback_id, "deliveries": deliveries,
            "failed_channels": [f"{item['channel']} {item['action']}" for item in deliveries if item["error"]],
            "summary": summary}


ARGUMENT_SPEC: dict[str, Any] = dict(
    phase=dict(type="str", required=True, choices=["start", "finish", "attention", "fleet"]),
    report=dict(type="dict", required=True),
    acting=dict(type="bool", default=True),
    earlier=dict(type="raw"),
    incident=dict(type="str", default=""),
    fleet=dict(type="str", default=""),
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
    # Personal data: no_log keeps every number out of the result, the output and the run's log.
    phone_numbers=dict(type="list", elements="str", default=[], no_log=True),
    state_path=dict(type="path", default=""),
    validate_certs=dict(type="bool", default=True),
    budget=dict(type="float", default=10.0),
    timeout=dict(type="float", default=10.0),
    retries=dict(type="int", default=3),
)
FRAME = NotifyFrame
work = notify


def main() -> None:
    run_as_module(ARGUMENT_SPEC, FRAME, work)


if __name__ == "__main__":
    main()
