# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Who is told what about a rollback, and the receivers that tell them (Slack, e-mail, PagerDuty, a status page, the
phone hotline by SMS).

The rules (docs/runbook.md, "Notifications") live here once: Slack hears of every run; e-mail goes to the operations
list from Level 2 and for a roll-forward, to management for Level 3; PagerDuty is paged when a Level 3 rollback starts
acting and resolved when its recovery is verified, and a break-glass Level 2 pages for confirmation (a run the lock
refused pages nobody: the run holding the lock pages for the environment); a status page
incident is opened and resolved with Level 3 (never for a drill: a drill must not tell customers anything); the
hotline numbers get an SMS when Level 3 starts acting and when an automatic rollback needs a person (never for a drill).
Credentials travel only in the request field their receiver reads; nothing returned here carries one, nor a phone
number.

Receivers fail during the incidents a rollback is for. Every phase has one Budget across all its receivers and their
retries; deliver() sends each receiver in a thread of its own, so none waits on another, and what has not answered
when the budget is spent counts as not delivered.
"""

from __future__ import annotations

import json
import random
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _records
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import HTTPClient, HTTPClientError

SLACK_API_URL = "https://slack.com/api"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
STATUSPAGE_API_URL = "https://api.statuspage.io/v1"
DEFAULT_SLACK_CHANNEL = "#ops-alerts"
MARKERS = {"success": ":white_check_mark:", "target_missed": ":warning:", "failed": ":rotating_light:",
           "dry_run": ":mag:", "started": ":rotating_light:"}
VERIFIED_OUTCOMES = ("success", "target_missed")
# The page at the start of a run: from this level on, to the channels that act at the start (the frame runs the
# notify role right after the flags only for these; rollback_start plans it).
START_PAGE_LEVEL = 3
START_PAGE_CHANNELS = frozenset({"pagerduty", "statuspage", "phone"})


# What makes a channel configured: any of these settings, or the environment variable the module falls back on.
CHANNEL_SETTINGS = {
    "slack": (("slack_token", "SLACK_TOKEN"), ("slack_webhook_url", "SLACK_WEBHOOK_URL")),
    "email": (("smtp_host", None),),
    "pagerduty": (("pagerduty_routing_key", "PAGERDUTY_ROUTING_KEY"),),
    "statuspage": (("statuspage_page_id", None),),
    "phone": (("phone_numbers", None),),
}
# SMTP answers that mean "try again later" (RFC 5321 4yz); any other refusal is final.
SMTP_TRANSIENT = range(400, 500)


def configured_channels(receivers: dict[str, Any], environ: Any) -> list[str]:
    """The channels some setting (or its environment fallback) turns on: a run with none costs no notify step."""
    return [channel for channel, settings in CHANNEL_SETTINGS.items()
            if any(receivers.get(name) or (variable and environ.get(variable)) for name, variable in settings)]


class NotificationError(Exception):
    """A receiver refused or never answered; the message is safe to show (no credential in it)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def label(report: dict[str, Any]) -> str:
    if report.get("direction") == "forward":
        return "Roll-forward"
    return f"Level {report.get('level')} rollback"


def who(report: dict[str, Any]) -> tuple[str, str]:
    """The run's requester and its approver as every message and the incident report name them: verified by AWX,
    claimed, refused (and why), break glass, a trigger rule, or not enforced."""
    authorization = report.get("authorization") or {}
    requester = authorization.get("requester") or report.get("operator") or "unknown"
    approval = authorization.get("approval") or {}
    if authorization.get("refused"):
        approver = f"REFUSED ({authorization.get('approver') or 'no approver'}): {authorization.get('reason')}"
    elif authorization.get("break_glass"):
        approver = "none (BREAK GLASS)"
    elif authorization.get("automatic"):
        approver = f"trigger rule ({report.get('trigger')})"
    elif not authorization.get("enforced"):
        approver = "authorization not enforced"
    elif authorization.get("approver"):
        how = "approved in AWX" if approval.get("verified") else "claimed, not verified" if approval else ""
        approver = f"{authorization['approver']} ({how})" if how else str(authorization["approver"])
    else:
        approver = f"{authorization.get('authorized_by')} (holds the role)"
    return str(requester), str(approver)


def facts(report: dict[str, Any], phase: str) -> list[tuple[str, str]]:
    """The lines every message carries: level, environment, trigger, operator, approver, time against target,
    outcome."""
    requester, approver = who(report)
    target = float(report.get("target_seconds") or 0)
    if phase == "start":
        timing = f"target {target:.0f}s"
        outcome = "started"
    else:
        elapsed = float(report.get("elapsed_seconds") or 0)
        timing = f"{elapsed:.1f}s of a {target:.0f}s target" if target else f"{elapsed:.1f}s"
        outcome = str(report.get("outcome"))
    found = [("Level", label(report)), ("Environment", str(report.get("environment"))),
             ("Trigger", str(report.get("trigger") or "manual")), ("Operator", requester), ("Approver", approver),
             ("Time", timing), ("Outcome", outcome),
             ("Rollback id", str(report.get("rollback_id") or report.get("id")))]
    if report.get("reason"):
        found.append(("Reason", str(report["reason"])))
    return found


def headline(report: dict[str, Any], phase: str, drill: bool) -> str:
    prefix = "[DRILL] " if drill else ""
    if phase == "attention":
        return f"{prefix}Automatic rollback of {report.get('environment')} needs a person"
    if phase == "start":
        return f"{prefix}{label(report)} of {report.get('environment')} started"
    return f"{prefix}{label(report)} of {report.get('environment')}: {report.get('outcome')}"


def text_message(report: dict[str, Any], phase: str, drill: bool) -> str:
    lines = [headline(report, phase, drill)]
    lines += [f"{name}: {value}" for name, value in facts(report, phase)]
    if phase == "finish" and report.get("summary"):
        lines += ["", str(report["summary"])]
    return "\n".join(lines)


def slack_message(report: dict[str, Any], phase: str, drill: bool) -> dict[str, Any]:
    if phase == "attention":
        return {"text": f"{MARKERS['failed']} *{headline(report, phase, drill)}*\n{report.get('summary')}"}
    marker = MARKERS.get("started" if phase == "start" else str(report.get("outcome")), "")
    fields = " · ".join(f"*{name}:* {value}" for name, value in facts(report, phase))
    text = f"{marker} *{headline(report, phase, drill)}*\n{fields}"
    if phase == "finish" and report.get("summary"):
        text += f"\n{report['summary']}"
    return {"text": text}


def email_plan(report: dict[str, Any], drill: bool, ops_to: list[str],
               management_to: list[str]) -> dict[str, Any] | None:
    """The one e-mail of a finished run, or None when nobody is to get one."""
    forward = report.get("direction") == "forward"
    level = int(report.get("level") or 0)
    to = list(ops_to) if (forward or level >= 2) else []
    cc = list(management_to) if (not forward and level >= 3) else []
    if not to and not cc:
        return None
    return {"to": to or cc, "cc": cc if to else [], "subject": headline(report, "finish", drill),
            "body": text_message(report, "finish", drill)}


def dedup_key(environment: str, incident: str) -> str:
    """One key per incident (the first rollback of it: the snapshot's rollback id), so that a re-run or an escalation
    updates the page instead of paging again."""
    return f"matbakh.hybrid_routing/{environment}/{incident}"


def pagerduty_plan(report: dict[str, Any], phase: str, acting: bool) -> str | None:
    """trigger, resolve or None, by the rules in this module's docstring."""
    if phase == "attention":
        return "trigger"
    if report.get("dry_run") or report.get("direction") == "forward":
        return None
    # Refused by the lock: the run that holds it pages for the environment (its own incident); a second page for a
    # run that wrote nothing would wake a person to a "failed" rollback while the real one goes on.
    if (report.get("failure") or {}).get("busy"):
        return None
    level = int(report.get("level") or 0)
    authorization = report.get("authorization") or {}
    if phase == "start":
        return "trigger" if level >= START_PAGE_LEVEL and acting else None
    if level >= 3:
        return "resolve" if report.get("outcome") in VERIFIED_OUTCOMES else "trigger"
    if authorization.get("break_glass"):
        return "trigger"  # asks a manager to confirm the break-glass run afterwards
    return None


def fleet_headline(fleet: dict[str, Any], drill: bool) -> str:
    prefix = "[DRILL] " if drill else ""
    state = {"stopped": f"STOPPED at wave {fleet.get('wave')}", "done": "done", "failed": "done, with failures",
             "running": f"wave {fleet.get('wave')} of {fleet.get('of_waves')} done"}.get(str(fleet.get("outcome")), "")
    return f"{prefix}{label(fleet)} of a fleet of {len(fleet.get('environments') or {})}: {state}"


def fleet_slack_message(fleet: dict[str, Any], drill: bool) -> dict[str, Any]:
    """The one message of a fleet's wave: where the fleet stands, then a line per environment that has run."""
    marker = MARKERS["failed"] if fleet.get("failed") else MARKERS["success"]
    lines = [f"{marker} *{fleet_headline(fleet, drill)}*", str(fleet.get("message") or "")]
    for name, entry in (fleet.get("environments") or {}).items():
        if entry.get("outcome") == "untouched":
            continue
        timing = f"{float(entry.get('elapsed_seconds') or 0):.1f}s of {float(entry.get('target_seconds') or 0):.0f}s"
        lines.append(f"• {name} (wave {entry.get('wave')}): {entry.get('outcome')}, {timing}, "
                     f"{entry.get('rollback_id')}")
    if fleet.get("untouched"):
        lines.append(f"Untouched: {', '.join(fleet['untouched'])}")
    return {"text": "\n".join(lines)}


def fleet_pagerduty_plan(fleet: dict[str, Any], page_status: str | None) -> str | None:
    """One page per fleet incident: triggered when an environment failed (the fleet stopped, or a failure within
    the tolerance), resolved when the fleet finished without one and a page is open (a Level 3's start page, or an
    earlier run's); nothing for a dry run or a roll-forward."""
    if fleet.get("dry_run") or fleet.get("direction") == "forward":
        return None
    if fleet.get("failed"):
        return "trigger"
    if fleet.get("finished") and (page_status == "open" or int(fleet.get("level") or 0) >= START_PAGE_LEVEL):
        return "resolve"
    return None


def pagerduty_event(report: dict[str, Any], phase: str, action: str, key: str, drill: bool,
                    routing_key: str) -> dict[str, Any]:
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": key}
    if action == "trigger":
        summary = fleet_headline(report, drill) if phase == "fleet" else headline(report, phase, drill)
        if phase == "attention":
            summary = f"{summary}: {report.get('summary')}"
        if (report.get("authorization") or {}).get("break_glass") and int(report.get("level") or 0) < 3:
            summary = f"{summary}: BREAK GLASS, an engineering manager must confirm"
        event["payload"] = {
            "summary": summary[:1024],
            "source": f"matbakh.hybrid_routing/{report.get('environment')}",
            # A drill pages at the lowest severity: the chain is tested, nobody is woken for it.
            "severity": "info" if drill else "critical",
            "component": "hybrid-routing",
            "group": str(report.get("environment")),
            "class": "rollback",
            "custom_details": ({"summary": report.get("summary")} if phase == "attention"
                               else {"fleet": report.get("message")} if phase == "fleet"
                               else dict(facts(report, phase))),
        }
    return event


class Budget:
    """One phase's total time, across all its receivers and their retries."""

    def __init__(self, seconds: float):
        self.seconds = max(0.0, float(seconds))
        self.deadline = time.monotonic() + self.seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def spent(self) -> str:
        return f"no answer within the notification budget of {self.seconds:g}s"


class Notifier:
    """Sends through one HTTPClient per receiver (retries, Retry-After, deadlines live there), e-mail with smtplib and
    SMS with SNS; every send ends by the phase's budget."""

    def __init__(self, *, timeout: float, retries: int, validate_certs: bool, budget: Budget | None = None,
                 ca_path: str | None = None):
        self.timeout = timeout
        self.retries = retries
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.budget = budget or Budget(timeout * (retries + 1) + 10)

    def _client(self, name: str, secret_url: bool = False) -> HTTPClient:
        left = self.budget.left()
        if left <= 0:
            raise NotificationError(self.budget.spent())
        return HTTPClient("", service_name=name, secret_url=secret_url, timeout=min(self.timeout, left),
                          retries=self.retries, total_timeout=left, validate_certs=self.validate_certs,
                          ca_path=self.ca_path)

    def slack_webhook(self, url: str, message: dict[str, Any]) -> None:
        try:
            self._client("the Slack webhook", secret_url=True).request("POST", url, json=message, expect_json=False)
        except HTTPClientError as exc:
            raise NotificationError(str(exc), status=exc.status) from None

    def slack_post(self, api_url: str, token: str, channel: str, message: dict[str, Any]) -> None:
        client = self._client("Slack (chat.postMessage)")
        try:
            body = client.request("POST", f"{api_url.rstrip('/')}/chat.postMessage",
                                  json=dict(message, channel=channel),
                                  headers={"Authorization": f"Bearer {token}"})[1]
        except HTTPClientError as exc:
            raise NotificationError(str(exc)) from None
        # Slack's Web API answers 200 with ok=false for its own errors (not_in_channel, invalid_auth...).
        if not isinstance(body, dict) or not body.get("ok"):
            error = body.get("error") if isinstance(body, dict) else "an answer that is not Slack's"
            raise NotificationError(f"Slack refused chat.postMessage to {channel}: {error}")

    def pagerduty(self, events_url: str, event: dict[str, Any]) -> None:
        try:
            self._client("PagerDuty Events API v2").request("POST", events_url, json=event)
        except HTTPClientError as exc:
            raise NotificationError(str(exc)) from None

    def statuspage(self, method: str, url: str, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self._client("the status page API").request(
                method, url, json=body, headers={"Authorization": f"OAuth {api_key}"})[1]
        except HTTPClientError as exc:
            raise NotificationError(str(exc)) from None
        return answer if isinstance(answer, dict) else {}

    def statuspage_unresolved(self, incidents_url: str, api_key: str) -> list[dict[str, Any]]:
        """The page's incidents that are not resolved yet (Statuspage: GET .../incidents/unresolved, a list)."""
        try:
            answer = self._client("the status page API").request(
                "GET", f"{incidents_url}/unresolved", headers={"Authorization": f"OAuth {api_key}"})[1]
        except HTTPClientError as exc:
            raise NotificationError(str(exc)) from None
        return [item for item in answer if isinstance(item, dict)] if isinstance(answer, list) else []

    def email(self, smtp: dict[str, Any], email: dict[str, Any]) -> None:
        """Send the run's e-mail (smtplib: the standard library's client, whose every wait a deadline bounds).
        A refusal that is final (5yz, a wrong login) is not retried; a connection that fails or a 4yz answer is,
        1-2-4 s apart, while the budget lasts."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = smtp["sender"], ", ".join(email["to"]), email["subject"]
        if email["cc"]:
            message["Cc"] = ", ".join(email["cc"])
        message.set_content(email["body"])
        where = f"{smtp['host']}:{smtp['port']}"
        attempts, pause = 0, 1.0
        while True:
            attempts += 1
            try:
                self._smtp_send(smtp, message)
                return
            except smtplib.SMTPAuthenticationError:
                raise NotificationError(f"Authentication to {where} failed: check smtp_username and smtp_password"
                                        ) from None
            except smtplib.SMTPResponseException as exc:
                error, final = f"{where} answered {exc.smtp_code} {_smtp_text(exc.smtp_error)}", \
                    exc.smtp_code not in SMTP_TRANSIENT
            except smtplib.SMTPRecipientsRefused as exc:
                error, final = f"{where} refused every recipient ({len(exc.recipients)})", True
            except (OSError, smtplib.SMTPException) as exc:
                error, final = f"Cannot send through {where}: {_smtp_reason(exc)}", False
            tried = f" (tried {attempts} times)" if attempts > 1 else ""
            if final or attempts > self.retries or self.budget.left() <= pause:
                raise NotificationError(f"{error}{tried}")
            time.sleep(pause)
            pause *= 2

    def _smtp_send(self, smtp: dict[str, Any], message: EmailMessage) -> None:
        left = self.budget.left()
        if left <= 0:
            raise TimeoutError("timed out")
        with smtplib.SMTP(smtp["host"], smtp["port"], timeout=min(self.timeout, left)) as server:
            server.ehlo()
            if smtp["starttls"]:
                if not server.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("the server offers no STARTTLS (smtp_starttls is on)")
                context = ssl.create_default_context(cafile=self.ca_path or None)
                if not self.validate_certs:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                server.starttls(context=context)
                server.ehlo()
            if smtp["username"]:
                server.login(smtp["username"], smtp["password"])
            server.send_message(message)

    def sms(self, client: Any, numbers: list[str], text: str) -> None:
        """One SMS per hotline number through Amazon SNS, all at once (boto3 clients are thread-safe); the numbers
        never appear in an error."""
        from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._aws import AWSError, call

        outcome: dict[int, str | None] = {}

        def publish(index: int, number: str) -> None:
            try:
                call("SNS Publish", client.publish, PhoneNumber=number, Message=text[:1400])
                outcome[index] = None
            except AWSError as exc:
                outcome[index] = str(exc).replace(number, "<number>")

        threads = [threading.Thread(target=publish, args=(index, number), daemon=True)
                   for index, number in enumerate(numbers, start=1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.budget.left())
        failed = [f"number {index}: {outcome[index] if index in outcome else self.budget.spent()}"
                  for index in range(1, len(numbers) + 1) if outcome.get(index, "") is not None]
        if failed:
            raise NotificationError(f"{len(failed)} of {len(numbers)} hotline SMS not sent: {'; '.join(failed)}")


def _smtp_text(error: Any) -> str:
    text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
    return " ".join(text.split())[:200]


def _smtp_reason(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, ssl.SSLError)) or "timed out" in str(exc):
        return "timed out" if not isinstance(exc, ssl.SSLError) else f"TLS: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)[:200]


class Job:
    """One receiver's part of a phase: its deliveries (planned before it runs, so that a receiver that never
    answers is still reported) and the function that sends them. The function records each outcome with sent() or
    failed(), and may add() a delivery it decides on only once it runs."""

    def __init__(self, run: Callable[[Job], None], *planned: dict[str, Any]):
        self.run = run
        self.deliveries: list[dict[str, Any]] = list(planned)
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._closed = False  # the budget is spent: a late answer changes nothing reported

    def add(self, delivery: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._lock:
            if not self._closed:
                where = self.deliveries.index(before) if before in self.deliveries else len(self.deliveries)
                self.deliveries.insert(where, delivery)
        return delivery

    def drop(self, delivery: dict[str, Any]) -> None:
        """The receiver found nothing to send after all (e.g. no status page incident to resolve)."""
        with self._lock:
            if not self._closed and delivery in self.deliveries:
                self.deliveries.remove(delivery)

    def sent(self, delivery: dict[str, Any]) -> None:
        with self._lock:
            if not self._closed:
                delivery.update(sent=True, error=None)

    def failed(self, delivery: dict[str, Any], error: str) -> None:
        with self._lock:
            if not self._closed:
                delivery.update(sent=False, error=error)

    def send(self, delivery: dict[str, Any], send: Callable[[], Any]) -> bool:
        """send() for this delivery; its failure is recorded, not raised (the job goes on with its next one)."""
        try:
            send()
        except NotificationError as exc:
            self.failed(delivery, str(exc))
            return False
        self.sent(delivery)
        return True

    def close(self, budget: Budget) -> list[dict[str, Any]]:
        with self._lock:
            self._closed = True
            for delivery in self.deliveries:
                if not delivery["sent"] and not delivery["error"]:
                    delivery["error"] = budget.spent()
            return [dict(delivery) for delivery in self.deliveries]


def deliver(jobs: list[Job], budget: Budget) -> list[dict[str, Any]]:
    """Run every job in a daemon thread of its own and wait for them until the budget is spent; a delivery that has
    not been answered by then is reported as not delivered. Daemon threads: a receiver that hangs must not keep the
    Ansible worker from exiting (its sockets time out by the same deadline anyway)."""

    def run(job: Job) -> None:
        try:
            job.run(job)
        except Exception as exc:  # a bug in one receiver must not hide the others' results
            for delivery in job.deliveries:
                if not delivery["sent"] and not delivery["error"]:
                    job.failed(delivery, f"{type(exc).__name__}: {exc}")
        finally:
            job.done.set()

    for job in jobs:
        threading.Thread(target=run, args=(job,), daemon=True, name="rollback_notify").start()
    for job in jobs:
        job.done.wait(budget.left())
    return [delivery for job in jobs for delivery in job.close(budget)]


def read_state(path: str, aws: dict[str, Any] | None = None) -> dict[str, Any]:
    """The notification state (per incident) at a file or an s3:// location; {} when there is none or it cannot be
    read: a receiver is never held back by its bookkeeping (a lost state at worst repeats a page's trigger, which
    PagerDuty folds into the open incident by its dedup key). In S3 one attempt of 2 s (read between the actions)."""
    return _read_state(path, aws, quick=True)[0]


def _read_state(path: str, aws: dict[str, Any] | None, quick: bool = False) -> tuple[dict[str, Any], str | None]:
    """The state and the version read (the S3 object's ETag; None on disk or when there is none)."""
    try:
        if _records.in_s3(path):
            bucket, key = _records.store(path, aws or {}, quick)
            content, version = bucket.get(key) or (None, None)
        else:
            content, version = _records.read(path, {}), None
        state = json.loads(content) if content else {}
    except (_records.RecordsError, ValueError):
        return {}, None
    return (state if isinstance(state, dict) else {}), version


def update_state(path: str, key: str, values: dict[str, Any], aws: dict[str, Any] | None = None) -> None:
    """Merge values into one incident's state. In S3 the write is conditional on the version read (If-Match), so
    that two controllers notifying at once do not drop each other's incidents; on disk the replace is atomic."""
    for attempt in range(10):
        state, version = _read_state(path, aws)
        state.setdefault(key, {}).update(values)
        body = json.dumps(state, indent=2, sort_keys=True).encode()
        if not _records.in_s3(path):
            _records.write(path, {}, body)
            return
        bucket, object_key = _records.store(path, aws or {})
        if bucket.put(object_key, body, only_if=version or "absent"):
            return
        time.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # spreads writers that lost together
    raise _records.RecordsError(f"The notification state {path} changed under every one of 10 writes; try again")


def summarize(deliveries: list[dict[str, Any]]) -> str:
    """One sentence for the run's summary: what was sent, and every failure with its reason."""
    if not deliveries:
        return "Notifications: none configured."
    sent = [item for item in deliveries if item["sent"]]
    failed = [item for item in deliveries if not item["sent"] and item.get("error")]
    parts = [f"Notifications: {len(sent)} of {len(sent) + len(failed)} sent"]
    if sent:
        parts[0] += f" ({', '.join(_name(item) for item in sent)})"
    for item in failed:
        parts.append(f"{_name(item)} FAILED: {item['error']}")
    return "; ".join(parts) + "."


def _name(item: dict[str, Any]) -> str:
    when = " at the start" if item.get("phase") == "start" else ""
    return f"{item['channel']} {item['action']}{when}" + (f" to {item['to']}" if item.get("to") else "")
