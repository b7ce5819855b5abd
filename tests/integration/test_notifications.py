"""Who is told what, end to end: the real playbooks against the sandbox and the notification sink (Slack's Web API
and webhook, PagerDuty's Events API v2, a status page, an SMTP server with STARTTLS and login), read back from what
each receiver recorded."""

from __future__ import annotations

import json
import secrets

from hrtest import SINK_SMTP_PASSWORD, Sink, http

LEVEL1 = "playbooks/rollback_level1.yml"
LEVEL2 = "playbooks/rollback_level2.yml"
LEVEL3 = "playbooks/rollback_level3.yml"
PEOPLE = {"alice": {"roles": ["on_call"]}, "mark": {"roles": ["engineering_manager"]}, "cara": {"roles": ["cto"]}}
APPROVERS = {1: "", 2: "mark", 3: "cara"}
MARK = secrets.token_hex(6)
SECRET = {
    "slack_token": f"xoxb-SECRETslack{MARK}",
    "webhook": f"/slack/webhook/T0/B0/SECRETwebhook{MARK}",
    "smtp_password": SINK_SMTP_PASSWORD,
    "pagerduty": f"SECRETpagerduty{MARK}",
    "statuspage": f"SECRETstatuspage{MARK}",
}


def receivers(sink: Sink, **overrides) -> dict:
    values = {
        "hybrid_routing_people": PEOPLE,
        "hybrid_routing_slack_token": SECRET["slack_token"],
        "hybrid_routing_slack_api_url": f"{sink.base}/slack/api",
        "hybrid_routing_smtp_host": "127.0.0.1",
        "hybrid_routing_smtp_port": sink.smtp_port,
        "hybrid_routing_smtp_username": Sink.SMTP_USER,
        "hybrid_routing_smtp_password": SECRET["smtp_password"],
        "hybrid_routing_email_from": "rollback@example.com",
        "hybrid_routing_email_ops_to": ["ops@example.com"],
        "hybrid_routing_email_management_to": ["cto-office@example.com"],
        "hybrid_routing_pagerduty_routing_key": SECRET["pagerduty"],
        "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue",
        "hybrid_routing_statuspage_api_url": f"{sink.base}/statuspage/v1",
        "hybrid_routing_statuspage_api_key": SECRET["statuspage"],
        "hybrid_routing_statuspage_page_id": "page1",
        # The sink's STARTTLS certificate is self-signed.
        "hybrid_routing_notify_validate_certs": False,
    }
    values.update(overrides)
    return values


def run_level(runner, sink, level: int, *args: str, **overrides):
    return runner.run(f"playbooks/rollback_level{level}.yml", "-e", "hybrid_routing_requester=alice",
                      "-e", f"hybrid_routing_approver={APPROVERS[level]}", *args,
                      inventory_vars=receivers(sink, **overrides))


def last_record(runner) -> dict:
    return json.loads((runner.state_dir / "itest" / "audit.jsonl").read_text().splitlines()[-1])


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for name, value in SECRET.items():
            assert value not in text, f"the {name} marker leaked"
        assert MARK not in text, "a secret marker leaked"


def assert_credentials_only_where_read(sink: Sink) -> None:
    """Every request the receivers got, without the one field each receiver reads its credential from."""
    for request in sink.requests():
        headers = {name: value for name, value in request["headers"].items() if name.lower() != "authorization"}
        body = dict(request["body"]) if isinstance(request["body"], dict) else request["body"]
        if isinstance(body, dict):
            body.pop("routing_key", None)
        assert_no_secret(json.dumps([request["path"] if "/webhook/" not in request["path"] else "", headers, body]))
    assert_no_secret(json.dumps(sink.get("mail")))


def written_files(runner) -> str:
    return "".join(path.read_text(errors="replace") for path in (runner.state_dir).rglob("*") if path.is_file())


def test_each_level_tells_whom_its_level_calls_for(runner, api, sink):
    seen: dict[int, dict] = {}
    for level in (1, 2, 3):
        api.reset()
        sink.reset()
        run = run_level(runner, sink, level, "-vvv")
        assert run.rc == 0, run.output
        seen[level] = {"slack": sink.requests("/slack/"), "mail": sink.get("mail"),
                       "pagerduty": sink.requests("/pagerduty/"), "statuspage": sink.requests("/statuspage/"),
                       "pages": sink.get("pagerduty")}
        assert_no_secret(run.output, written_files(runner))
        assert_credentials_only_where_read(sink)

    for level, got in seen.items():
        # Slack, every level: chat.postMessage to the default channel, the token only in the Authorization header.
        [slack] = got["slack"]
        assert slack["path"] == "/slack/api/chat.postMessage"
        assert slack["headers"]["Authorization"] == f"Bearer {SECRET['slack_token']}"
        assert slack["body"]["channel"] == "#ops-alerts"
        text = slack["body"]["text"]
        for expected in (f"Level {level} rollback of itest: success", "*Trigger:* manual", "*Operator:* alice",
                         f"of a {[120, 300, 600][level - 1]}s target", "*Outcome:* success"):
            assert expected in text, (expected, text)
        assert SECRET["slack_token"] not in json.dumps(slack["body"])
        assert "[DRILL]" not in text

    assert seen[1]["mail"] == [] and seen[1]["pagerduty"] == [] and seen[2]["pagerduty"] == []
    assert "*Approver:* mark" in seen[2]["slack"][0]["body"]["text"]
    # E-mail: operations from Level 2, management too at Level 3; over STARTTLS, logged in.
    [mail2] = seen[2]["mail"]
    assert mail2["rcpt_tos"] == ["ops@example.com"] and mail2["tls"] and mail2["auth_user"] == Sink.SMTP_USER
    assert mail2["subject"] == "Level 2 rollback of itest: success" and "Approver: mark" in mail2["body"]
    [mail3] = seen[3]["mail"]
    assert sorted(mail3["rcpt_tos"]) == ["cto-office@example.com", "ops@example.com"]
    assert "cto-office@example.com" in mail3["cc"] and "Approver: cara" in mail3["body"]
    assert all(SECRET["smtp_password"] not in mail["raw"] for mail in (mail2, mail3))
    # PagerDuty, Level 3: triggered when it starts acting, resolved when recovery is verified, one dedup key.
    trigger, resolve = seen[3]["pagerduty"]
    assert trigger["body"]["event_action"] == "trigger" and resolve["body"]["event_action"] == "resolve"
    assert trigger["body"]["dedup_key"] == resolve["body"]["dedup_key"]
    assert trigger["body"]["routing_key"] == SECRET["pagerduty"]
    assert trigger["body"]["payload"]["severity"] == "critical"
    # Named on the command line, not by an AWX approval: a claim, and the page says so (docs/audit.md).
    assert trigger["body"]["payload"]["custom_details"]["Approver"] == "cara (claimed, not verified)"
    assert trigger["at"] < seen[3]["slack"][0]["at"]
    assert len(seen[3]["pages"]["pages"]) == 1 and seen[3]["pages"]["open"] == []
    # The key travels only where PagerDuty reads it.
    assert SECRET["pagerduty"] not in json.dumps(trigger["headers"]) + json.dumps(trigger["body"]["payload"])
    # Status page, Level 3: no open incident of this environment to take over, so one is opened, then resolved.
    look, create, patch = seen[3]["statuspage"]
    assert (look["method"], create["method"], patch["method"]) == ("GET", "POST", "PATCH")
    assert look["path"].endswith("/incidents/unresolved")
    assert patch["body"]["incident"]["status"] == "resolved"
    assert create["headers"]["Authorization"] == f"OAuth {SECRET['statuspage']}"
    # The audit trail and the incident report say what was sent.
    record = last_record(runner)
    assert {(item["channel"], item["action"], item["sent"]) for item in record["notifications"]} == {
        ("pagerduty", "trigger", True), ("statuspage", "create", True), ("pagerduty", "resolve", True),
        ("statuspage", "resolve", True), ("slack", "message", True), ("email", "message", True)}
    report_path = runner.state_dir / "itest" / "reports" / f"{record['rollback_id']}.md"
    report = report_path.read_text()
    assert "- pagerduty trigger to matbakh.hybrid_routing/itest/" in report and ": sent" in report
    # The run's full log beside the report (checked for secrets above with every file the run wrote).
    assert f"`{record['rollback_id']}.log`, beside this report" in report
    log = report_path.with_suffix(".log").read_text()
    assert "Tell people (Slack, e-mail, PagerDuty, status page, hotline, by level)" in log and "RECAP itest" in log
    assert '"rollback_id": "' + record["rollback_id"] in log


def test_pagerduty_pages_once_across_a_break_glass_escalation_and_a_rerun(runner, api, sink):
    glass = runner.run(LEVEL2, "-e", "hybrid_routing_requester=alice", "-e",
                       json.dumps({"hybrid_routing_break_glass_reason": "manager not answering"}),
                       inventory_vars=receivers(sink))
    assert glass.rc == 0, glass.output
    [confirm] = sink.requests("/pagerduty/")
    assert confirm["body"]["event_action"] == "trigger"
    assert "BREAK GLASS, an engineering manager must confirm" in confirm["body"]["payload"]["summary"]

    escalated = run_level(runner, sink, 3)
    assert escalated.rc == 0, escalated.output
    again = run_level(runner, sink, 3)
    assert again.rc == 0, again.output
    events = [item["body"] for item in sink.requests("/pagerduty/")]
    assert [event["event_action"] for event in events] == ["trigger", "trigger", "resolve", "resolve"], events
    assert len({event["dedup_key"] for event in events}) == 1, "one incident, one dedup key"
    pages = sink.get("pagerduty")
    assert len(pages["pages"]) == 1 and pages["open"] == [], pages
    assert len([item for item in sink.requests("/statuspage/") if item["method"] == "POST"]) == 1


def test_a_status_page_incident_whose_id_was_lost_is_taken_over_not_opened_twice(runner, api, sink):
    """A Level 3 killed between opening the status page incident and keeping its id: Statuspage has no dedup key,
    so the re-run finds the environment's unresolved incident, resolves it and opens no second one."""
    status, opened = http("POST", f"{sink.base}/statuspage/v1/pages/page1/incidents", body={"incident": {
        "name": "Degraded AI responses (itest)", "status": "identified", "body": "opened by the killed run"}},
        headers={"Authorization": "OAuth killed-run"})
    assert status == 201, opened
    other = http("POST", f"{sink.base}/statuspage/v1/pages/page1/incidents", body={"incident": {
        "name": "Degraded AI responses (another-environment)", "status": "identified"}},
        headers={"Authorization": "OAuth other"})[1]
    run = run_level(runner, sink, 3)
    assert run.rc == 0, run.output
    incidents = {item["id"]: item for item in sink.get("statuspage")["incidents"]}
    assert len(incidents) == 2, f"a second incident was opened for itest: {incidents}"
    assert incidents[opened["id"]]["status"] == "resolved"
    assert incidents[other["id"]]["status"] == "identified", "another environment's incident is not touched"
    record = last_record(runner)
    delivered = {(item["channel"], item["action"], item["sent"]) for item in record["notifications"]}
    assert ("statuspage", "create", True) in delivered


def test_failing_receivers_are_retried_reported_and_never_fail_the_rollback(runner, api, sink):
    sink.fail("/slack/", 429, times=1, retry_after=1)
    sink.fail("/pagerduty/", 500, times=10)
    run = run_level(runner, sink, 3, hybrid_routing_smtp_password="not-the-password",
                    hybrid_routing_statuspage_page_id="")
    assert run.rc == 0, run.output
    assert api.get("/admin/routing")["mode"] == "mcp_only"
    slack = sink.requests("/slack/")
    assert [item["answered"] for item in slack] == [429, None], "429 honoured (Retry-After), then sent"
    output = " ".join(run.output.split())
    # The start's page failed, so the end sends it again (same dedup key) before resolving: 5 deliveries.
    assert "Notifications: 1 of 5 sent (slack message to #ops-alerts)" in output
    assert "pagerduty trigger at the start to matbakh.hybrid_routing/itest/" in output
    assert "failed with 500" in output
    # A wrong password is final: reported at once, not retried.
    assert ("email message to ops@example.com, cto-office@example.com FAILED: Authentication to 127.0.0.1:"
            f"{sink.smtp_port} failed: check smtp_username and smtp_password.") in output
    record = last_record(runner)
    failed = {(item["channel"], item["action"]) for item in record["notifications"] if not item["sent"]}
    assert failed == {("pagerduty", "trigger"), ("pagerduty", "resolve"), ("email", "message")}
    assert record["outcome"] == "success"
    assert_no_secret(run.output)


def test_a_drill_is_marked_and_check_mode_sends_nothing(runner, api, sink):
    dry = run_level(runner, sink, 3, "--check")
    assert dry.rc == 0, dry.output
    assert sink.requests() == [] and sink.get("mail") == []

    # The webhook way, and the SMTP password from the environment (as the AWX credential injects it).
    drill = runner.run(LEVEL3, "-e", "hybrid_routing_requester=alice", "-e", "hybrid_routing_approver=cara",
                       "-e", "hybrid_routing_drill=true", env={"SMTP_PASSWORD": SECRET["smtp_password"]},
                       inventory_vars=receivers(sink, hybrid_routing_slack_token="", hybrid_routing_smtp_password="",
                                                hybrid_routing_slack_webhook_url=sink.base + SECRET["webhook"]))
    assert drill.rc == 0, drill.output
    [slack] = sink.requests("/slack/")
    assert slack["path"] == SECRET["webhook"] and "[DRILL] Level 3 rollback of itest: success" in slack["body"]["text"]
    [mail] = sink.get("mail")
    assert mail["subject"].startswith("[DRILL] ") and mail["auth_user"] == Sink.SMTP_USER
    trigger = sink.requests("/pagerduty/")[0]["body"]
    assert trigger["payload"]["severity"] == "info" and trigger["payload"]["summary"].startswith("[DRILL] ")
    assert sink.requests("/statuspage/") == [], "a drill never opens a public status page incident"
    assert_no_secret(drill.output)
