"""Trigger rules against a real CloudWatch API (moto in server mode), fed by the sandbox playing the service:
triggers_info, and the rollback metrics every run publishes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import yaml

from hrtest import aws_vars, fast_rules, http


def playbook(tmp_path: Path, tasks: list[dict]) -> str:
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"name": "itest", "hosts": "all", "gather_facts": False, "tasks": tasks}]))
    return str(path)


def triggers_task(monitored, moto, rules, **extra) -> dict:
    # The aws_* names are aliases of amazon.aws's option names (endpoint_url, region, access_key, secret_key): the
    # names before 0.3.0 keep working.
    return {"name": "Evaluate", "matbakh.hybrid_routing.triggers_info": dict(
        environment=monitored.environment, rules=rules, aws_endpoint_url=moto.url, aws_region=moto.REGION,
        aws_access_key="testing", aws_secret_key="moto-secret-4410", **extra)}


def evaluation(run) -> dict:
    [task] = [t for t in run.tasks if t["action"] == "matbakh.hybrid_routing.triggers_info"]
    return task


def test_a_healthy_service_fires_nothing_in_one_call(runner, monitored, moto_server, tmp_path):
    runner.sandbox = monitored
    mark = moto_server.mark()
    real = runner.run(playbook(tmp_path, [triggers_task(monitored, moto_server, fast_rules())]))
    assert real.rc == 0, real.output
    found = evaluation(real)
    assert found["calls"] == 1
    assert moto_server.calls("GetMetricData", mark) == 1  # counted on the moto side
    result = found["evaluation"]
    assert result["recommended_level"] == 0 and result["all_clear"] is True, result
    assert {r["state"] for r in result["rules"]} == {"ok"}
    latency = next(r for r in result["rules"] if r["name"] == "emergency_latency")
    assert len(latency["datapoints"]) == 5 and all(p["value"] == 0.8 for p in latency["datapoints"])
    assert "moto-secret-4410" not in real.output

    check = runner.run(playbook(tmp_path, [triggers_task(monitored, moto_server, fast_rules())]), "--check")
    assert check.rc == 0 and evaluation(check)["evaluation"]["all_clear"] is True
    assert not evaluation(check)["changed"]


def test_each_incident_kind_fires_its_level(runner, monitored, moto_server, tmp_path):
    runner.sandbox = monitored
    expected = {"flag": ({"emergency_latency", "critical_latency"}, 1), "routing": ({"error_rate"}, 2),
                "release": ({"availability"}, 3),
                "security": ({"gdpr_compliance", "security_score", "pii_detection_failures",
                              "audit_trail_integrity"}, 2),
                "cost": ({"cost_overrun", "cost_spike"}, 1)}
    for kind, (rules, level) in expected.items():
        monitored.set_faults({"incident": {"kind": kind, "history_seconds": 150}})
        time.sleep(1.5)  # the publisher's next tick writes the incident's history
        run = runner.run(playbook(tmp_path, [triggers_task(monitored, moto_server, fast_rules())]))
        assert run.rc == 0, run.output
        result = evaluation(run)["evaluation"]
        assert set(result["breaching"]) >= rules, (kind, result["breaching"])
        assert result["recommended_level"] >= level, (kind, result)
        firing = next(r for r in result["rules"] if r["name"] in rules)
        assert all(p["breaching"] for p in firing["datapoints"]), firing


def test_a_malformed_rule_is_refused_before_anything_is_read(runner, monitored, moto_server, tmp_path):
    runner.sandbox = monitored
    rules = fast_rules()
    rules[2]["comparison"] = "Above"
    mark = moto_server.mark()
    run = runner.run(playbook(tmp_path, [triggers_task(monitored, moto_server, rules)]))
    assert run.rc == 2
    assert "trigger rule 'error_rate': key 'comparison' must be one of GreaterThanThreshold" in run.output
    assert "Fix the option rules; nothing was read." in run.output
    assert "Traceback" not in run.output
    assert moto_server.calls("GetMetricData", mark) == 0


def test_unreadable_metrics_are_errors_never_a_pass(runner, monitored, moto_server, tmp_path):
    runner.sandbox = monitored
    task = triggers_task(monitored, moto_server, fast_rules(), aws_max_attempts=1)
    task["matbakh.hybrid_routing.triggers_info"]["aws_endpoint_url"] = "http://127.0.0.1:9"  # nothing listens
    run = runner.run(playbook(tmp_path, [task]))
    assert run.rc == 0, run.output
    result = evaluation(run)["evaluation"]
    assert {r["state"] for r in result["rules"]} == {"error"}
    assert result["all_clear"] is False and result["recommended_level"] == 0
    assert "got no answer" in result["rules"][0]["reason"]


def test_wait_until_clear_sees_the_recovery(runner, monitored, moto_server, tmp_path):
    runner.sandbox = monitored
    monitored.set_faults({"incident": {"kind": "flag", "history_seconds": 60}})
    time.sleep(1.5)
    status, _body = http("PATCH", f"{monitored.base}/admin/feature-flags", monitored.token,
                         {"flags": {"hybrid_routing": False}})
    assert status == 200
    run = runner.run(playbook(tmp_path, [triggers_task(monitored, moto_server, fast_rules(), wait_until_clear=True,
                                                       wait_timeout=60, interval=2)]))
    assert run.rc == 0, run.output
    found = evaluation(run)
    assert found["evaluation"]["all_clear"] is True
    assert found["wait"]["polls"] >= 2 and found["wait"]["elapsed"] < 40, found["wait"]


def test_a_rollback_publishes_its_own_metrics(runner, monitored, moto_server):
    runner.sandbox = monitored
    run = runner.run("playbooks/rollback_level1.yml", inventory_vars=dict(
        aws_vars(moto_server), hybrid_routing_api_base=monitored.base, hybrid_routing_environment=monitored.environment,
        hybrid_routing_drill=True), env={"ADMIN_TOKEN": monitored.token})
    assert run.rc == 0, run.output
    # Published by the run's last step (rollback_record), which records the run: an event, not managed state.
    [published] = [t for t in run.tasks if t["action"] == "matbakh.hybrid_routing.rollback_record"]
    assert published["metrics_published"] is True and published["changed"] is False
    cw = moto_server.cloudwatch()
    dims = [{"Name": "Environment", "Value": monitored.environment}, {"Name": "Level", "Value": "1"},
            {"Name": "Drill", "Value": "true"}]
    listed = cw.list_metrics(Namespace="Matbakh/HybridRouting/Rollbacks", Dimensions=dims)["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"RollbackDuration", "RollbackSucceeded", "RollbackFailed", "RollbackTargetMissed", "TimeToRecovery",
            "RecoveryIncomplete", "HealthDegradedDuringRollback"} <= names
    listed = cw.list_metrics(Namespace="Matbakh/HybridRouting/Rollbacks", MetricName="PhaseDuration")["Metrics"]
    phases = {d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "Phase"}
    assert {"preflight", "lock", "actions", "verify"} <= phases
    assert "moto-secret-4410" not in run.output

    dry = runner.run("playbooks/rollback_level1.yml", "--check", inventory_vars=dict(
        aws_vars(moto_server), hybrid_routing_api_base=monitored.base,
        hybrid_routing_environment=monitored.environment), env={"ADMIN_TOKEN": monitored.token})
    assert dry.rc == 0, dry.output
    [dry_metrics] = [t for t in dry.tasks if t["action"] == "matbakh.hybrid_routing.rollback_record"]
    assert dry_metrics["metrics_published"] is False and not dry_metrics["changed"]


def test_backtest_replays_a_seeded_history(runner, api, moto_server):
    import datetime
    import secrets

    import boto3

    environment = f"itest-history-{secrets.token_hex(3)}"
    # An AWS account of its own (STS, as a multi-account organisation hands credentials out): moto scans every
    # datapoint of the account for each query, and the shared one fills up with what the other tests publish
    # (under load one scan took over 60 s, and botocore's retry made it two calls).
    sts = boto3.client("sts", endpoint_url=moto_server.url, region_name=moto_server.REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    account = f"3{secrets.randbelow(10**11):011d}"
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/hybrid-routing-rollback",
                                  RoleSessionName=environment)["Credentials"]
    access = {"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
              "AWS_SESSION_TOKEN": credentials["SessionToken"]}
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto_server.url, region_name=moto_server.REGION,
                              aws_access_key_id=access["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=access["AWS_SECRET_ACCESS_KEY"],
                              aws_session_token=access["AWS_SESSION_TOKEN"])
    now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
    data = []
    for minute in range(1, 91):  # the last 90 minutes, one datapoint a minute
        at = now - datetime.timedelta(minutes=minute)
        error = 30.0 if 50 < minute <= 60 else 0.5
        latency = 25.0 if 20 < minute <= 30 else 0.7
        data += [{"MetricName": "ErrorRate", "Value": error, "Unit": "Percent", "Timestamp": at,
                  "Dimensions": [{"Name": "Environment", "Value": environment}]},
                 {"MetricName": "EmergencyOperationLatency", "Value": latency, "Unit": "Seconds", "Timestamp": at,
                  "Dimensions": [{"Name": "Environment", "Value": environment}]}]
    cloudwatch.put_metric_data(Namespace="Matbakh/HybridRouting", MetricData=data)

    mark = moto_server.mark()
    run = runner.run("playbooks/backtest.yml", "-e", "backtest_hours=1.5", env=access,
                     inventory_vars={"hybrid_routing_aws_endpoint_url": moto_server.url,
                                     "hybrid_routing_aws_region": moto_server.REGION,
                                     "hybrid_routing_environment": environment})
    assert run.rc == 0, run.output
    assert moto_server.calls("GetMetricData", mark) == 1
    shown = " ".join(run.stdout.split())  # the console wraps long lines
    assert "2 incident(s) would have triggered a rollback." in shown, run.stdout
    assert re.search(r"to \S+: Level 2 \(error_rate\)", shown), run.stdout
    assert re.search(r"to \S+: Level 1 \(emergency_latency\)", shown), run.stdout
    assert credentials["SecretAccessKey"] not in run.output and credentials["SessionToken"] not in run.output


def test_alarms_are_created_once(runner, api, moto_server):
    import secrets

    environment = f"itest-alarms-{secrets.token_hex(3)}"
    inventory = dict(aws_vars(moto_server), hybrid_routing_environment=environment)
    cw = moto_server.cloudwatch()

    def alarms() -> dict:
        found = cw.describe_alarms(AlarmNamePrefix=f"hybrid-routing-{environment}-")["MetricAlarms"]
        return {a["AlarmName"]: a for a in found}

    dry = runner.run("playbooks/alarms.yml", "--check", inventory_vars=inventory)
    assert dry.rc == 0, dry.output
    assert alarms() == {}
    real = runner.run("playbooks/alarms.yml", inventory_vars=inventory)
    assert real.rc == 0, real.output
    created = alarms()
    assert len(created) == 16
    failed = created[f"hybrid-routing-{environment}-level2-failed"]
    assert failed["MetricName"] == "RollbackFailed" and failed["Threshold"] == 0
    dimensions = {d["Name"]: d["Value"] for d in failed["Dimensions"]}
    assert dimensions == {"Environment": environment, "Level": "2", "Drill": "false"}
    again = runner.run("playbooks/alarms.yml", inventory_vars=inventory)
    assert again.rc == 0 and "changed=0" in again.stdout, again.stdout
    assert "moto-secret-4410" not in real.output + again.output
