"""Reliability 7: every level and auto_rollback on a day when the receivers fail too (issue 16).

Each receiver (Slack, e-mail, PagerDuty, the status page, the hotline's SMS through SNS) in each failure mode: it
hangs (accepts, never answers), refuses connections, answers after 5 s, answers 500, or answers 429 with a
Retry-After longer than the budget. Every run must roll back as fast as with healthy receivers (its actions phase
within 1 s of a healthy run's), end within a healthy run's wall time plus the notification budget plus 2 s, and
report every receiver that did not get its message (summary, audit record, incident report). The short mode (the
test command) fails every receiver at once in each mode; `--full` also fails each receiver alone.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from test_auto_rollback import start_incident
from testports import free_port

from hrtest import SINK_SMTP_PASSWORD, Sink, aws_vars, fast_rules
from reliability import AUTO, PLAYBOOKS, TARGETS, AwsFaultProxy, Case, level_state_problems

BUDGET = 10.0
MODES = ["hang", "refuse", "slow", "500", "429_long"]
RECEIVERS = ["slack", "email", "pagerduty", "statuspage", "phone"]
ENTRIES = ["level1", "level2", "level3", "auto"]
PEOPLE = {"alice": {"roles": ["on_call"]}, "mark": {"roles": ["engineering_manager"]}, "cara": {"roles": ["cto"]}}
APPROVER = {"level1": "", "level2": "mark", "level3": "cara"}
HOTLINE = ["+15555550100", "+15555550101"]
# Who hears of each entry point's run (docs/runbook.md, Notifications); auto_rollback here is a flag incident that
# Level 1 ends.
DUE = {"level1": {"slack"}, "level2": {"slack", "email"},
       "level3": {"slack", "email", "pagerduty", "statuspage", "phone"}, "auto": {"slack"}}
SINK_PREFIX = {"slack": "/slack/", "pagerduty": "/pagerduty/", "statuspage": "/statuspage/", "email": "smtp"}
SINK_FAULT = {"hang": {"hang": True}, "slow": {"delay": 5}, "500": {"status": 500},
              "429_long": {"status": 429, "retry_after": 30}}
# SMTP has no 429: its "try again later" is 421, its final refusal 554.
SMTP_FAULT = {"hang": {"hang": True}, "slow": {"delay": 5}, "500": {"status": 554}, "429_long": {"status": 421}}
SNS_FAULT = {"hang": "hang", "slow": "slow", "500": "error", "429_long": "throttle", "refuse": "drop"}


def cases() -> list:
    found = []
    for entry in ENTRIES:
        for mode in MODES:
            found.append(pytest.param(entry, mode, "all", id=f"{entry}-{mode}-all", marks=pytest.mark.reliability))
            for receiver in sorted(DUE[entry]):
                found.append(pytest.param(entry, mode, receiver, id=f"{entry}-{mode}-{receiver}",
                                          marks=[pytest.mark.reliability, pytest.mark.full]))
    return found


@pytest.fixture(scope="module")
def aws_proxy(moto_server):
    proxy = AwsFaultProxy(moto_server.url)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def healthy() -> dict:
    """Each entry point's run with healthy receivers, measured once per module: (wall seconds, actions seconds)."""
    return {}


def receivers(sink: Sink, refused: set[str]) -> dict:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connections are refused
    base = {name: (closed if name in refused else sink.base) for name in ("slack", "pagerduty", "statuspage")}
    return {
        "hybrid_routing_people": PEOPLE,
        "hybrid_routing_slack_token": "xoxb-receivers",
        "hybrid_routing_slack_api_url": f"{base['slack']}/slack/api",
        "hybrid_routing_smtp_host": "127.0.0.1",
        "hybrid_routing_smtp_port": free_port() if "email" in refused else sink.smtp_port,
        "hybrid_routing_smtp_username": Sink.SMTP_USER,
        "hybrid_routing_smtp_password": SINK_SMTP_PASSWORD,
        "hybrid_routing_email_from": "rollback@example.com",
        "hybrid_routing_email_ops_to": ["ops@example.com"],
        "hybrid_routing_email_management_to": ["cto-office@example.com"],
        "hybrid_routing_pagerduty_routing_key": "receivers-routing-key",
        "hybrid_routing_pagerduty_events_url": f"{base['pagerduty']}/pagerduty/v2/enqueue",
        "hybrid_routing_statuspage_api_url": f"{base['statuspage']}/statuspage/v1",
        "hybrid_routing_statuspage_api_key": "receivers-statuspage-key",
        "hybrid_routing_statuspage_page_id": "page1",
        "hybrid_routing_phone_numbers": HOTLINE,
        "hybrid_routing_notify_validate_certs": False,
        "hybrid_routing_notify_budget_seconds": BUDGET,
    }


def break_receivers(sink: Sink, proxy: AwsFaultProxy, mode: str, failing: set[str]) -> set[str]:
    """Make the failing receivers fail in this mode; returns the ones to refuse (pointed at a closed port)."""
    if mode == "refuse":
        if "phone" in failing:
            proxy.arm("Publish", SNS_FAULT[mode], 1000)
        return failing - {"phone"}
    for receiver in failing:
        if receiver == "phone":
            proxy.arm("Publish", SNS_FAULT[mode], 1000)
        else:
            sink.fault(SINK_PREFIX[receiver], **(SMTP_FAULT if receiver == "email" else SINK_FAULT)[mode])
    return set()


def proxied(moto, proxy: AwsFaultProxy) -> dict:
    return dict(aws_vars(moto), hybrid_routing_aws_endpoint_url=proxy.url)


def run_entry(runner, api, monitored, moto, proxy, sink, entry: str, refused: set[str]):
    inventory = dict(receivers(sink, refused), **proxied(moto, proxy))
    if entry == "auto":
        runner.sandbox = monitored
        monitored.reset()
        start_incident(monitored, "flag")
        inventory.update(hybrid_routing_api_base=monitored.base, hybrid_routing_environment=monitored.environment,
                         hybrid_routing_trigger_rules=fast_rules(), hybrid_routing_auto_recovery_interval_seconds=2,
                         # the baseline and the run under test act on one environment: no cooldown between them
                         hybrid_routing_auto_cooldown_seconds=0, hybrid_routing_auto_max_rollbacks=1000)
        return runner.run(AUTO, inventory_vars=inventory, env={"ADMIN_TOKEN": monitored.token}, timeout=200)
    api.reset()
    return runner.run(PLAYBOOKS[entry], "-e", "hybrid_routing_requester=alice", "-e",
                      f"hybrid_routing_approver={APPROVER[entry]}", inventory_vars=inventory, timeout=200)


def audit_notifications(runner, environment: str) -> list[dict]:
    lines = (runner.state_dir / environment / "audit.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["notifications"]


def incident_report(runner, environment: str) -> str:
    record = json.loads((runner.state_dir / environment / "audit.jsonl").read_text().splitlines()[-1])
    return (runner.state_dir / environment / "reports" / f"{record['rollback_id']}.md").read_text()


@pytest.mark.parametrize("entry, mode, failing", cases())
def test_a_failing_receiver_never_holds_the_rollback_back(
        request, runner, api, moto_server, aws_proxy, sink, healthy, entry, mode, failing):
    # auto_rollback needs a sandbox that publishes its metrics (one per test: an environment of its own).
    monitored = request.getfixturevalue("monitored") if entry == "auto" else None
    if entry not in healthy:
        sink.reset()
        aws_proxy.clear()
        baseline = run_entry(runner, api, monitored, moto_server, aws_proxy, sink, entry, set())
        assert baseline.rc == 0, baseline.output
        assert "FAILED" not in " ".join(baseline.stdout.split()).split("PLAY RECAP")[-2][-600:], baseline.stdout
        healthy[entry] = (baseline.seconds, baseline.phase_seconds("actions"))
    wall, actions = healthy[entry]
    broken = DUE[entry] if failing == "all" else {failing}
    sink.reset()
    aws_proxy.clear()
    refused = break_receivers(sink, aws_proxy, mode, broken)
    case = Case("receivers", f"{entry} / {mode} / {failing}", target=TARGETS[entry])
    run = run_entry(runner, api, monitored, moto_server, aws_proxy, sink, entry, refused)
    case.run(run.seconds, run.rc == 0)
    case.note = f"actions {run.phase_seconds('actions'):.1f}s (healthy {actions:.1f}s), wall {run.seconds:.1f}s " \
                f"(healthy {wall:.1f}s)"
    sink.reset()  # lift the faults before reading the state
    aws_proxy.clear()
    case.save()
    assert run.rc == 0, run.output
    if entry != "auto":
        assert level_state_problems(api, entry) == [], run.output
    else:
        assert not monitored.flags()["hybrid_routing"]
    # Nothing waits on a receiver before or between the actions; the run waits at most the budget for them.
    assert run.phase_seconds("actions") <= actions + 1.0, (run.phase_seconds("actions"), actions, run.stdout)
    assert run.seconds <= wall + BUDGET + 2.0, (run.seconds, wall, run.stdout)
    # Every receiver that did not get its message is reported: in the summary and the audit record.
    environment = monitored.environment if entry == "auto" else "itest"
    notifications = audit_notifications(runner, environment)
    undelivered = {item["channel"] for item in notifications if not item["sent"]}
    assert all(item["error"] for item in notifications if not item["sent"]), notifications
    summary = " ".join(run.stdout.split())
    report = incident_report(runner, environment)
    for item in notifications:
        if not item["sent"]:
            assert f"{item['channel']} {item['action']}" in summary and "FAILED" in summary, summary
            assert f"FAILED: {item['error']}" in report, report
    if mode != "slow":
        assert undelivered >= broken, (undelivered, broken, notifications)
    else:  # 5 s late is within the budget for a receiver that needs one request
        assert {"slack", "email", "pagerduty", "phone"} & broken <= {
            item["channel"] for item in notifications if item["sent"]} | (undelivered & {"statuspage"}), notifications
    assert "+1555555010" not in json.dumps(notifications) + run.output, "a hotline number leaked"
    # PagerDuty got the incident once, and a page that failed at the start was tried again at the end.
    if entry == "level3" and "pagerduty" in broken and mode != "slow":
        assert [(item["action"], item["phase"]) for item in notifications if item["channel"] == "pagerduty"] == [
            ("trigger", "start"), ("trigger", "finish"), ("resolve", "finish")], notifications


def test_a_page_that_missed_the_start_reaches_pagerduty_once_at_the_end(runner, api, moto_server, aws_proxy, sink):
    """PagerDuty down while Level 3 acts, back by the end: one incident, triggered and resolved, one dedup key."""
    sink.fault("/pagerduty/", status=503, times=4)  # the start's attempts (1 + 3 retries)
    run = run_entry(runner, api, None, moto_server, aws_proxy, sink, "level3", set())
    assert run.rc == 0, run.output
    events = [item["body"] for item in sink.requests("/pagerduty/") if item["answered"] is None]
    assert [event["event_action"] for event in events] == ["trigger", "resolve"], events
    assert len({event["dedup_key"] for event in events}) == 1
    pages = sink.get("pagerduty")
    assert len(pages["pages"]) == 1 and pages["open"] == [], pages
    notifications = audit_notifications(runner, "itest")
    assert [(item["action"], item["phase"], item["sent"]) for item in notifications
            if item["channel"] == "pagerduty"] == [("trigger", "start", False), ("trigger", "finish", True),
                                                   ("resolve", "finish", True)], notifications


def test_the_hotline_gets_an_sms_for_level3_and_no_number_is_recorded(runner, api, moto_server, aws_proxy, sink):
    aws_proxy.forwarded.clear()
    run = run_entry(runner, api, None, moto_server, aws_proxy, sink, "level3", set())
    assert run.rc == 0, run.output
    sent = _sms(aws_proxy)
    assert sorted(number for number, _text in sent) == HOTLINE, sent
    assert all(text.startswith("Level 3 rollback of itest started") for _number, text in sent), sent
    [phone] = [item for item in audit_notifications(runner, "itest") if item["channel"] == "phone"]
    assert phone == {"channel": "phone", "action": "sms", "to": "2 hotline numbers", "phase": "start", "sent": True,
                     "error": None}
    written = "".join(path.read_text(errors="replace") for path in runner.state_dir.rglob("*") if path.is_file())
    assert not any(number in written + run.output for number in HOTLINE), "a hotline number was recorded"
    # A drill never phones.
    api.reset()
    aws_proxy.forwarded.clear()
    drill = runner.run(PLAYBOOKS["level3"], "-e", "hybrid_routing_requester=alice", "-e",
                       "hybrid_routing_approver=cara", "-e", "hybrid_routing_drill=true",
                       inventory_vars=dict(receivers(sink, set()), **proxied(moto_server, aws_proxy)))
    assert drill.rc == 0, drill.output
    assert _sms(aws_proxy) == [] and sink.get("pagerduty")["pages"], "no SMS, while PagerDuty was paged (at info)"


def _sms(proxy: AwsFaultProxy) -> list[tuple[str, str]]:
    """The SMS that SNS (moto, behind the proxy) accepted: (number, text) of each Publish it answered 200."""
    found = []
    for status, body in proxy.forwarded:
        form = urllib.parse.parse_qs(body.decode())
        if form.get("Action") == ["Publish"] and status == 200:
            found.append((form["PhoneNumber"][0], form["Message"][0]))
    return found


def test_the_budget_is_a_variable(runner, api, moto_server, aws_proxy, sink):
    """A shorter budget: hanging receivers cost that long, no more."""
    started = time.monotonic()
    sink.fault("/slack/", hang=True)
    sink.fault("smtp", hang=True)
    run = runner.run(PLAYBOOKS["level2"], "-e", "hybrid_routing_requester=alice", "-e",
                     "hybrid_routing_approver=mark",
                     inventory_vars=dict(receivers(sink, set()), hybrid_routing_notify_budget_seconds=3))
    assert run.rc == 0, run.output
    assert time.monotonic() - started < 20
    summary = " ".join(run.stdout.split())
    assert "slack message to #ops-alerts FAILED: no answer within the notification budget of 3s" in summary or \
        "did not answer within" in summary, summary
