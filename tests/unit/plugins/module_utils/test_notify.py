"""The notification budget (module_utils/_notify.py): receivers sent at once, none waiting on another, what has not
answered when the budget is spent reported as not delivered; e-mail bounded by the same budget; the end of a run
reading what its start sent in the background."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from testports import free_port

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _notify
from ansible_collections.matbakh.hybrid_routing.plugins.modules.rollback_notify import StartPhase


def delivery(channel: str) -> dict:
    return {"channel": channel, "action": "message", "to": "x", "phase": "finish", "sent": False, "error": None}


def sleeper(seconds: float, fail: str | None = None):
    def run(job: _notify.Job) -> None:
        for item in job.deliveries:
            def send() -> None:
                time.sleep(seconds)
                if fail:
                    raise _notify.NotificationError(fail)
            job.send(item, send)
    return run


def test_receivers_are_sent_at_once_and_a_hanging_one_is_cut_at_the_budget():
    budget = _notify.Budget(0.6)
    began = time.monotonic()
    found = _notify.deliver([_notify.Job(sleeper(30), delivery("slack")),
                             _notify.Job(sleeper(0.2), delivery("email")),
                             _notify.Job(sleeper(0.2), delivery("pagerduty")),
                             _notify.Job(sleeper(0.1, fail="answered 500"), delivery("statuspage"))], budget)
    elapsed = time.monotonic() - began
    assert 0.55 <= elapsed < 0.9, elapsed  # the budget, not 30 s, and not the sum of the others
    by_channel = {item["channel"]: item for item in found}
    assert by_channel["slack"] == dict(delivery("slack"), error="no answer within the notification budget of 0.6s")
    assert by_channel["email"]["sent"] and by_channel["pagerduty"]["sent"]
    assert by_channel["statuspage"]["error"] == "answered 500"


def test_all_answering_returns_as_soon_as_the_last_one_did():
    began = time.monotonic()
    found = _notify.deliver([_notify.Job(sleeper(0.3), delivery(name)) for name in ("a", "b", "c")],
                            _notify.Budget(10))
    assert time.monotonic() - began < 0.6 and all(item["sent"] for item in found)


def test_a_late_answer_changes_nothing_reported():
    job = _notify.Job(sleeper(0.3), delivery("slack"))
    [found] = _notify.deliver([job], _notify.Budget(0.1))
    time.sleep(0.4)
    assert not found["sent"] and not job.deliveries[0]["sent"], "the answer after the budget is not counted"


def test_a_delivery_added_while_running_is_reported_and_kept_in_order():
    planned = delivery("pagerduty")

    def run(job: _notify.Job) -> None:
        late = job.add(dict(planned, action="trigger"), before=planned)
        job.send(late, lambda: None)
        job.send(planned, lambda: time.sleep(30))
    found = _notify.deliver([_notify.Job(run, planned)], _notify.Budget(0.3))
    assert [(item["action"], item["sent"]) for item in found] == [("trigger", True), ("message", False)]


@pytest.fixture
def silent_server():
    """Accepts connections and never says a word (an SMTP server that hangs before its greeting)."""
    server = socket.socket()
    server.bind(("127.0.0.1", free_port()))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


EMAIL = {"to": ["ops@example.com"], "cc": [], "subject": "s", "body": "b"}


def smtp(port: int) -> dict:
    return {"host": "127.0.0.1", "port": port, "sender": "r@example.com", "starttls": True, "username": "u",
            "password": "SMTP-SECRET"}


def test_email_to_a_server_that_never_answers_ends_with_the_budget(silent_server):
    notifier = _notify.Notifier(timeout=10, retries=3, validate_certs=True, budget=_notify.Budget(1.0))
    began = time.monotonic()
    with pytest.raises(_notify.NotificationError, match=r"Cannot send through 127\.0\.0\.1:\d+: timed out"):
        notifier.email(smtp(silent_server), EMAIL)
    assert time.monotonic() - began < 1.5


def test_email_refused_is_retried_while_the_budget_lasts():
    notifier = _notify.Notifier(timeout=10, retries=3, validate_certs=True, budget=_notify.Budget(2.5))
    began = time.monotonic()
    with pytest.raises(_notify.NotificationError) as caught:
        notifier.email(smtp(free_port()), EMAIL)
    # Tried at 0 s and after 1 s; the next pause (2 s) would end past the budget.
    assert "connection refused (tried 2 times)" in str(caught.value) and "SMTP-SECRET" not in str(caught.value)
    assert 0.9 < time.monotonic() - began < 2.5


def test_an_http_receiver_gets_what_is_left_of_the_budget():
    notifier = _notify.Notifier(timeout=10, retries=3, validate_certs=True, budget=_notify.Budget(0.0))
    with pytest.raises(_notify.NotificationError, match="no answer within the notification budget of 0s"):
        notifier.pagerduty("http://127.0.0.1:9/v2/enqueue", {})


def test_the_end_of_a_run_reads_what_its_start_sent_in_the_background(tmp_path):
    path = tmp_path / "start.json"
    planned = [dict(delivery("pagerduty"), action="trigger", phase="start")]
    earlier = {"rollback_id": "rb-1", "deliveries": planned,
               "background": {"result_path": str(path), "deadline": time.time() + 5}}
    written = {"rollback_id": "rb-1", "deliveries": [dict(planned[0], sent=True)]}
    threading.Timer(0.3, lambda: path.write_text(json.dumps(written))).start()
    start = StartPhase(earlier, _notify.Budget(5))
    assert start.delivered("pagerduty", "trigger") is True
    assert not path.exists(), "the result file is removed once read"
    assert start.delivered("phone", "sms") is None


def test_a_start_that_never_finished_counts_as_not_delivered(tmp_path):
    planned = [dict(delivery("pagerduty"), action="trigger", phase="start")]
    earlier = {"rollback_id": "rb-1", "deliveries": planned,
               "background": {"result_path": str(tmp_path / "never.json"), "deadline": time.time() + 60}}
    began = time.monotonic()
    start = StartPhase(earlier, _notify.Budget(0.4))
    [item] = start.result()["deliveries"]
    assert time.monotonic() - began < 0.7, "waits no longer than this phase's budget"
    assert item["sent"] is False and "budget" in item["error"]
    assert start.delivered("pagerduty", "trigger") is False


def test_the_start_is_sent_from_a_process_of_its_own(tmp_path):
    """spawn() returns at once; the process reads its arguments (the routing key among them) from stdin, sends, and
    writes its result (no secret in it) where the end of the run reads it."""
    from ansible_collections.matbakh.hybrid_routing.plugins.modules import rollback_notify
    from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._background import spawn

    report = {"level": 3, "direction": "back", "environment": "prod", "rollback_id": "rb-7", "outcome": "started"}
    args = {"phase": "start", "report": report, "pagerduty_routing_key": "PD-SPAWN-SECRET",
            "pagerduty_events_url": f"http://127.0.0.1:{free_port()}/v2/enqueue", "budget": 3, "retries": 0}
    planned = [{"channel": "pagerduty", "action": "trigger", "to": "k", "phase": "start", "sent": False,
                "error": None}]
    began = time.monotonic()
    background = spawn(rollback_notify, args, "matbakh.hybrid_routing.rollback_notify", 3, planned)
    assert background is not None and time.monotonic() - began < 0.5, "the task does not wait for the receivers"
    start = StartPhase({"rollback_id": "rb-7", "deliveries": planned, "background": background}, _notify.Budget(10))
    [item] = start.result()["deliveries"]
    assert item["channel"] == "pagerduty" and item["sent"] is False and "connection refused" in item["error"]
    assert "PD-SPAWN-SECRET" not in json.dumps(start.result())


def _fleet(**overrides):
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._fleet import summary

    reports = {"env0": {"outcome": "success", "level": 2, "direction": "back", "rollback_id": "rb-0",
                        "elapsed_seconds": 3.2, "target_seconds": 300.0, "summary": "ok"}}
    reports.update(overrides)
    return summary(["env0", "env1", "env2"], [1, "100%"], reports, 0, [name for name in reports if reports[name]])


def test_the_fleet_message_says_each_environment_that_ran_and_what_is_untouched():
    """Issue 21: one Slack message per wave for the fleet, not one per environment."""
    text = _notify.fleet_slack_message(_fleet(), drill=False)["text"]
    assert text.splitlines()[0] == ":white_check_mark: *Level 2 rollback of a fleet of 3: wave 1 of 2 done*"
    assert "• env0 (wave 1): success, 3.2s of 300s, rb-0" in text
    assert "env1 (wave" not in text and text.endswith("Untouched: env1, env2")
    failed = _fleet(env0={"outcome": "failed", "level": 2, "direction": "back", "rollback_id": "rb-0",
                          "failure": {"msg": "did not become healthy"}})
    text = _notify.fleet_slack_message(failed, drill=True)["text"]
    assert text.startswith(":rotating_light: *[DRILL] Level 2 rollback of a fleet of 3: STOPPED at wave 1*")


def test_the_fleet_pages_once_when_an_environment_failed_and_resolves_when_it_finished():
    failed = _fleet(env0={"outcome": "failed", "level": 2, "direction": "back", "rollback_id": "rb-0"})
    assert _notify.fleet_pagerduty_plan(failed, None) == "trigger"
    running = _fleet()
    assert _notify.fleet_pagerduty_plan(running, "open") is None  # not finished: the page stays as it is
    done = _fleet(env1=dict(running["environments"]["env0"], level=2, direction="back", outcome="success"),
                  env2={"outcome": "success", "level": 2, "direction": "back"})
    assert done["finished"] and _notify.fleet_pagerduty_plan(done, "open") == "resolve"
    assert _notify.fleet_pagerduty_plan(done, None) is None  # a Level 2 that paged nobody resolves nothing
    assert _notify.fleet_pagerduty_plan(dict(done, dry_run=True), "open") is None
    event = _notify.pagerduty_event(failed, "fleet", "trigger", _notify.dedup_key("fleet", "abc"), False, "rk")
    assert event["dedup_key"] == "matbakh.hybrid_routing/fleet/abc"
    assert event["payload"]["summary"].startswith("Level 2 rollback of a fleet of 3: STOPPED at wave 1")


def test_a_run_the_lock_refused_pages_nobody():
    """The run that holds the lock pages for the environment; the refused one wrote nothing."""
    refused = {"level": 3, "direction": "back", "outcome": "failed",
               "failure": {"task": "Start the run", "msg": "held by bob", "busy": {"holder": "bob"}}}
    assert _notify.pagerduty_plan(refused, "finish", False) is None
    failed = dict(refused, failure={"task": "Start the run", "msg": "no previous release", "busy": None})
    assert _notify.pagerduty_plan(failed, "finish", False) == "trigger", "a Level 3 that could not act still pages"
