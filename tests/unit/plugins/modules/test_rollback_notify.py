"""rollback_notify's rules with the transport replaced: who gets what per level, one dedup key per incident, what a
re-run or an escalation sends, failures reported, credentials never returned."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _notify
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, finish
from ansible_collections.matbakh.hybrid_routing.plugins.modules import rollback_notify

SECRETS = {"slack_token": "xoxb-UNIT-SECRET", "pagerduty_routing_key": "PD-UNIT-SECRET",
           "statuspage_api_key": "SP-UNIT-SECRET", "smtp_password": "SMTP-UNIT-SECRET"}
RECEIVERS = dict(SECRETS, statuspage_page_id="page1", smtp_host="smtp.example.com",
                 email_ops_to=["ops@example.com"], email_management_to=["cto@example.com"])


def report(level: int = 1, outcome: str = "success", **extra: Any) -> dict[str, Any]:
    base = {"level": level, "direction": "back", "environment": "prod", "operator": "alice", "outcome": outcome,
            "rollback_id": "rb-2", "elapsed_seconds": 41.2, "target_seconds": [120, 300, 600][level - 1],
            "dry_run": False, "trigger": "manual", "summary": f"Level {level} rollback of prod: done.",
            "authorization": {"requester": "alice", "approver": "mark", "authorized_by": "mark", "enforced": True,
                              "break_glass": False, "automatic": False}}
    return dict(base, **extra)


class Sent(list):
    """The calls each receiver got; `answers` makes a receiver fail with that message; `unresolved` is what the
    status page lists as not resolved yet."""

    answers: dict[str, str]
    unresolved: list[dict[str, Any]]


@pytest.fixture
def sent(monkeypatch) -> Sent:
    calls = Sent()
    answers: dict[str, Any] = {}

    def record(kind: str):
        def send(self, *args: Any) -> Any:
            calls.append((kind, args))
            failure = answers.get(kind)
            if failure:
                raise _notify.NotificationError(failure)
            if kind == "statuspage_unresolved":
                return calls.unresolved
            return {"id": "sp-incident-1"} if kind == "statuspage" else None
        return send

    for kind in ("slack_webhook", "slack_post", "pagerduty", "statuspage", "statuspage_unresolved", "email", "sms"):
        monkeypatch.setattr(_notify.Notifier, kind, record(kind))
    calls.answers = answers
    calls.unresolved = []
    return calls


def run(phase: str, the_report: dict[str, Any], check_mode: bool = False, **options: Any) -> dict[str, Any]:
    args = dict(RECEIVERS, phase=phase, report=the_report, **options)
    validation = ArgumentSpecValidator(rollback_notify.ARGUMENT_SPEC).validate(args)
    assert not validation.error_messages, validation.error_messages
    return finish(Frame(validation.validated_parameters, check_mode), rollback_notify.work)


def plan(result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(item["channel"], item["action"]) for item in result["deliveries"]}


@pytest.mark.parametrize(("level", "extra", "expected"), [
    (1, {}, {("slack", "message")}),
    (2, {}, {("slack", "message"), ("email", "message")}),
    (3, {}, {("slack", "message"), ("email", "message"), ("pagerduty", "resolve")}),
    # Not recovered: the page stays open (and is sent, and the status page opened, if the start did not get out).
    (3, {"outcome": "failed"}, {("slack", "message"), ("email", "message"), ("pagerduty", "trigger"),
                                ("statuspage", "create")}),
    (2, {"authorization": {"requester": "alice", "break_glass": True, "enforced": True}},
     {("slack", "message"), ("email", "message"), ("pagerduty", "trigger")}),
    (1, {"direction": "forward"}, {("slack", "message"), ("email", "message")}),
])
def test_who_hears_of_a_finished_run(sent, level, extra, expected):
    result = run("finish", report(level, **extra), check_mode=True)
    assert plan(result) == expected
    assert sent == [], "check mode sends nothing"
    assert not any(item["sent"] for item in result["deliveries"])


def test_level3_start_pages_and_opens_the_status_page_once_per_incident(sent, tmp_path):
    state = str(tmp_path / "notifications.json")
    first = run("start", report(3), incident="rb-1", state_path=state)
    assert plan(first) == {("pagerduty", "trigger"), ("statuspage", "create")}
    again = run("start", report(3), incident="rb-1", state_path=state)
    assert plan(again) == {("pagerduty", "trigger")}, "the status page incident is open already"
    keys = {args[1]["dedup_key"] for kind, args in sent if kind == "pagerduty"}
    assert keys == {"matbakh.hybrid_routing/prod/rb-1"}
    done = run("finish", report(3), incident="rb-1", state_path=state)
    assert ("statuspage", "resolve") in plan(done) and ("pagerduty", "resolve") in plan(done)
    # A re-run after the verified recovery: nothing to turn off, nobody paged again.
    rerun = run("start", report(3), incident="rb-1", state_path=state, acting=False)
    assert plan(rerun) == set()
    # Someone turned the flags back on: the same incident pages again.
    assert plan(run("start", report(3), incident="rb-1", state_path=state)) == {
        ("pagerduty", "trigger"), ("statuspage", "create")}


def test_an_unresolved_status_page_incident_of_the_environment_is_taken_over(sent, tmp_path):
    # The id was lost (a run killed after opening it): the incident of this environment is adopted, not doubled.
    sent.unresolved = [{"id": "other", "name": "Degraded AI responses (staging)"},
                       {"id": "lost", "name": "Degraded AI responses (prod)"}]
    state = str(tmp_path / "notifications.json")
    first = run("start", report(3), incident="rb-1", state_path=state)
    assert ("statuspage", "create", True) in {(item["channel"], item["action"], item["sent"])
                                              for item in first["deliveries"]}
    assert [args[0] for kind, args in sent if kind == "statuspage"] == [], "no second incident opened"
    run("finish", report(3), incident="rb-1", state_path=state)
    [(method, url, _key, body)] = [args for kind, args in sent if kind == "statuspage"]
    assert (method, url.rsplit("/", 1)[-1], body["incident"]["status"]) == ("PATCH", "lost", "resolved")
    # A listing that fails does not hold the incident back: it is opened (a duplicate is better than none).
    sent.answers["statuspage_unresolved"] = "the status page API failed with 503"
    again = run("start", report(3), incident="rb-2", state_path=str(tmp_path / "other.json"))
    [opened] = [item for item in again["deliveries"] if item["channel"] == "statuspage"]
    assert opened["sent"] and opened["error"] is None
    assert [args[0] for kind, args in sent if kind == "statuspage"] == ["PATCH", "POST"]


def test_an_escalation_after_break_glass_updates_the_open_page(sent, tmp_path):
    state = str(tmp_path / "notifications.json")
    glass = report(2, authorization={"requester": "alice", "break_glass": True, "enforced": True})
    assert plan(run("finish", glass, incident="rb-1", state_path=state)) >= {("pagerduty", "trigger")}
    # Level 3 finds the flags already off (acting false) but the page is open: it triggers on the same key.
    escalated = run("start", report(3), incident="rb-1", state_path=state, acting=False)
    assert plan(escalated) == {("pagerduty", "trigger"), ("statuspage", "create")}
    assert len({args[1]["dedup_key"] for kind, args in sent if kind == "pagerduty"}) == 1


def test_messages_carry_the_facts_and_a_drill_says_so(sent):
    run("finish", report(3), drill=True, statuspage_page_id="")
    slack = next(args for kind, args in sent if kind == "slack_post")
    text = slack[3]["text"]
    assert text.startswith(":white_check_mark: *[DRILL] Level 3 rollback of prod: success*")
    for fact in ("*Trigger:* manual", "*Operator:* alice", "*Approver:* mark", "*Time:* 41.2s of a 600s target",
                 "*Outcome:* success", "*Rollback id:* rb-2"):
        assert fact in text
    assert slack[2] == "#ops-alerts"
    event = next(args for kind, args in sent if kind == "pagerduty")[1]
    assert event["event_action"] == "resolve" and "payload" not in event


def test_a_drill_never_touches_the_status_page_and_pages_at_info(sent):
    result = run("start", report(3), drill=True)
    assert plan(result) == {("pagerduty", "trigger")}
    event = next(args for kind, args in sent if kind == "pagerduty")[1]
    assert event["payload"]["severity"] == "info" and event["payload"]["summary"].startswith("[DRILL] ")


def test_failures_are_reported_and_nothing_returned_carries_a_credential(sent):
    sent.answers["pagerduty"] = "POST https://events.pagerduty.com/v2/enqueue failed with 500"
    result = run("finish", report(3, outcome="failed"), statuspage_page_id="")
    assert result["failed_channels"] == ["pagerduty trigger"]
    assert ("Notifications: 2 of 3 sent (slack message to #ops-alerts, email message to ops@example.com, "
            "cto@example.com); pagerduty trigger to ") in result["summary"]
    assert "FAILED: POST https://events.pagerduty.com/v2/enqueue failed with 500" in result["summary"]
    assert "failed" not in result
    shown = json.dumps(result)
    assert not any(secret in shown for secret in SECRETS.values())


def test_the_webhook_is_used_without_a_token(sent):
    result = run("finish", report(1), slack_token="", slack_webhook_url="https://hooks.example/T/B/SECRET")
    assert [item["to"] for item in result["deliveries"]] == ["incoming webhook"]
    assert sent[0][0] == "slack_webhook"


def test_attention_pages_and_posts(sent):
    result = run("attention", {"environment": "prod", "summary": "Level 3 needed: above the ceiling 2."},
                 incident="auto-prod")
    assert plan(result) == {("slack", "message"), ("pagerduty", "trigger")}
    event = next(args for kind, args in sent if kind == "pagerduty")[1]
    assert event["payload"]["summary"] == "Automatic rollback of prod needs a person: Level 3 needed: above the " \
                                          "ceiling 2."


def test_the_earlier_phase_of_the_same_run_is_reported_with_the_end(sent):
    start = run("start", report(3, rollback_id=None, id="rb-9"), statuspage_page_id="")
    end = run("finish", report(3, rollback_id="rb-9"), earlier=start, statuspage_page_id="")
    assert [item["action"] for item in end["deliveries"] if item["channel"] == "pagerduty"] == ["trigger", "resolve"]
    other = run("finish", report(3, rollback_id="rb-10"), earlier=start, statuspage_page_id="")
    assert [item["action"] for item in other["deliveries"] if item["channel"] == "pagerduty"] == ["resolve"]


def test_a_bad_receiver_url_is_refused_before_sending(sent):
    result = run("finish", report(1), pagerduty_events_url="events.pagerduty.com")
    assert result["failed"] and "pagerduty_events_url" in result["msg"] and "Nothing was sent." in result["msg"]
    assert sent == []


def test_slack_ok_false_is_a_failure(monkeypatch):
    notifier = _notify.Notifier(timeout=1, retries=0, validate_certs=True)

    class Client:
        def request(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
            return 200, {"ok": False, "error": "not_in_channel"}

    monkeypatch.setattr(notifier, "_client", lambda *args, **kwargs: Client())
    with pytest.raises(_notify.NotificationError, match=r"Slack refused chat\.postMessage to #ops: not_in_channel"):
        notifier.slack_post("https://slack.example/api", "xoxb", "#ops", {"text": "hi"})
