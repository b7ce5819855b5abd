"""playbooks/auto_rollback.yml end to end: the sandbox plays the service and publishes its metrics to moto, an
incident breaches them, the real ansible-playbook evaluates, decides, rolls back, verifies with the metrics and
climbs the ladder; the end state is checked through the admin API, CloudWatch and DynamoDB."""

from __future__ import annotations

import time

from hrtest import aws_vars, fast_rules

AUTO = "playbooks/auto_rollback.yml"
DECISION = "matbakh.hybrid_routing.rollback_decision"


def auto_vars(monitored, moto, **extra) -> dict:
    found = dict(aws_vars(moto), hybrid_routing_api_base=monitored.base,
                 hybrid_routing_environment=monitored.environment, hybrid_routing_trigger_rules=fast_rules(),
                 hybrid_routing_auto_recovery_interval_seconds=2)
    found.update(extra)
    return found


def run_auto(runner, monitored, moto, *args, **extra):
    return runner.run(AUTO, *args, inventory_vars=auto_vars(monitored, moto, **extra),
                      env={"ADMIN_TOKEN": monitored.token})


def start_incident(monitored, kind: str) -> None:
    monitored.set_faults({"incident": {"kind": kind, "history_seconds": 150}})
    time.sleep(1.5)  # the publisher's next tick writes the incident's history


def final(run) -> dict:
    return run.by_action(DECISION)[-1]


def guard_records(moto, environment: str) -> list:
    import boto3

    db = boto3.client("dynamodb", endpoint_url=moto.url, region_name=moto.REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    try:
        item = db.get_item(TableName="hybrid-routing-auto-rollback", Key={"environment": {"S": environment}})
    except db.exceptions.ResourceNotFoundException:
        return []
    return item.get("Item", {}).get("runs", {}).get("L", [])


def test_a_flag_incident_is_rolled_back_at_level1_then_nothing(runner, monitored, moto_server):
    runner.sandbox = monitored
    start_incident(monitored, "flag")

    dry = run_auto(runner, monitored, moto_server, "--check")
    assert dry.rc == 0, dry.output
    assert final(dry)["decision"]["action"] == "planned"
    assert monitored.changes() == [] and guard_records(moto_server, monitored.environment) == []

    real = run_auto(runner, monitored, moto_server)
    assert real.rc == 0, real.output
    report = final(real)
    assert report["decision"]["action"] == "recovered" and report["decision"]["level"] == 1, report
    assert not monitored.flags()["hybrid_routing"]
    assert monitored.get("/admin/routing")["mode"] == "hybrid"  # Level 1 was enough: no escalation
    assert "Automatic rollback of" in real.stdout and "User impact" in real.stdout
    assert len(guard_records(moto_server, monitored.environment)) == 1
    assert "moto-secret-4410" not in real.output

    writes = len(monitored.changes())
    again = run_auto(runner, monitored, moto_server)
    assert again.rc == 0, again.output
    assert final(again)["decision"]["action"] == "none"
    assert len(monitored.changes()) == writes  # a second run does nothing

    # A new incident inside the cooldown: the circuit breaker holds, and nothing is written.
    start_incident(monitored, "routing")
    held = run_auto(runner, monitored, moto_server)
    assert held.rc == 2
    assert "Held by the circuit breaker: cooldown" in " ".join(held.output.split())
    assert len(monitored.changes()) == writes


def test_a_cost_incident_of_the_direct_path_climbs_to_level2(runner, monitored, moto_server):
    runner.sandbox = monitored
    start_incident(monitored, "cost_direct_path")
    real = run_auto(runner, monitored, moto_server)
    assert real.rc == 0, real.output
    decisions = [t["decision"] for t in real.by_action(DECISION)]
    assert [d["action"] for d in decisions] == ["run", "run", "recovered", "recovered"], decisions
    assert decisions[1]["level"] == 2 and "escalate to Level 2" in decisions[1]["reason"]
    assert monitored.get("/admin/routing")["mode"] == "mcp_only"


def test_level3_waits_for_a_person_and_pages_one(runner, monitored, moto_server, sink):
    runner.sandbox = monitored
    start_incident(monitored, "release")
    run = run_auto(runner, monitored, moto_server, hybrid_routing_pagerduty_routing_key="auto-routing-key",
                   hybrid_routing_pagerduty_events_url=f"{sink.base}/pagerduty/v2/enqueue",
                   hybrid_routing_slack_webhook_url=f"{sink.base}/slack/webhook/T/B/auto")
    assert run.rc == 2
    assert "a person must run playbooks/rollback_level3.yml" in " ".join(run.output.split())
    assert monitored.changes() == []
    [page] = sink.get("pagerduty")["pages"]
    assert page["summary"].startswith(f"Automatic rollback of {monitored.environment} needs a person: ")
    assert "playbooks/rollback_level3.yml" in page["summary"]
    [slack] = sink.requests("/slack/")
    assert "needs a person" in slack["body"]["text"]


def test_with_ceiling_3_an_outage_reverts_the_release(runner, monitored, moto_server):
    runner.sandbox = monitored
    current = monitored.get("/admin/releases")["current"]
    start_incident(monitored, "release")
    run = run_auto(runner, monitored, moto_server, hybrid_routing_auto_ceiling=3)
    assert run.rc == 0, run.output
    assert final(run)["decision"] == {"action": "recovered", "level": 3, "trigger": None,
                                      "reason": "Level 3 ended the incident: no trigger rule fires any more."}
    releases = monitored.get("/admin/releases")
    assert releases["current"] != current and releases["deployment"] is None


def test_inconclusive_rules_never_act(runner, monitored, moto_server):
    runner.sandbox = monitored
    start_incident(monitored, "flag")
    rules = [dict(fast_rules()[0], name="unpublished", metric=dict(fast_rules()[0]["metric"], name="NoSuchMetric"))]
    run = run_auto(runner, monitored, moto_server, hybrid_routing_trigger_rules=rules)
    assert run.rc == 0, run.output
    assert final(run)["decision"]["action"] == "hold"
    assert "cannot be decided or read (unpublished)" in " ".join(run.output.split())
    assert monitored.changes() == []


def test_what_the_ladder_decides_cannot_be_given_with_e(runner, monitored, moto_server):
    """-e outranks the rung's include vars: `-e hybrid_routing_level=3` would run Level 3 on every rung, past the
    ceiling of 2 and the Level 3 approval. Refused at the first decision, before the circuit breaker's slot (the
    first write) and before any change to the service."""
    runner.sandbox = monitored
    start_incident(monitored, "flag")
    for extra in ("hybrid_routing_level=3", "hybrid_routing_trigger=manual", "release_revert_strategy=helm"):
        run = run_auto(runner, monitored, moto_server, "-e", extra)
        assert run.rc != 0, run.output
        text = " ".join(run.output.split())
        assert f"Not settable for this run: {extra.split('=', maxsplit=1)[0]} (given with -e" in text, text
        assert "Traceback" not in run.output
        assert monitored.changes() == [] and guard_records(moto_server, monitored.environment) == []
