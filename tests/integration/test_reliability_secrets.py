"""Reliability 5: secrets at -vvv (issue 11). Every level, a roll-forward, auto_rollback, a drill and an AWX job
run with the admin token, the Slack webhook URL and token, the SMTP password, the PagerDuty key, the Statuspage
key and the AWS keys set to unique markers. None may appear in stdout, stderr, the audit trail, the incident
report, the kept log, any file the run wrote, any message a receiver got (but in the one field that receiver reads
its credential from: Authorization, PagerDuty's routing_key, the webhook's own URL, the SMTP login), or the AWX
artifacts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_notifications import MARK, PEOPLE
from test_notifications import SECRET as NOTIFY_SECRET
from test_notifications import receivers as notify_receivers

from hrtest import Sink, fast_rules
from reliability import AUTO, PLAYBOOKS, Case

# The notification tests' markers (one per credential, sharing MARK), and the AWS keys'.
SECRET = dict(NOTIFY_SECRET, aws_access_key=f"AKIASECRET{MARK.upper()}", aws_secret_key=f"SECRETaws{MARK}")
APPROVER = {"level1": "", "level2": "mark", "level3": "cara", "rollforward": "mark", "drill": "mark"}


def receivers(sink: Sink, webhook: bool) -> dict:
    """Every receiver (test_notifications'); Slack by its incoming webhook, or by chat.postMessage with the token."""
    values = notify_receivers(sink)
    if webhook:
        del values["hybrid_routing_slack_token"]
        values["hybrid_routing_slack_webhook_url"] = sink.base + SECRET["webhook"]
    return values


def aws(moto) -> dict:
    return {"hybrid_routing_aws_endpoint_url": moto.url, "hybrid_routing_aws_region": moto.REGION,
            "hybrid_routing_aws_access_key": SECRET["aws_access_key"],
            "hybrid_routing_aws_secret_key": SECRET["aws_secret_key"]}


def leaks(text: str, admin_token: str) -> list[str]:
    found = [name for name, value in SECRET.items() if value in text]
    return found + (["admin_token"] if admin_token in text else []) + (["marker"] if MARK in text else [])


def message_leaks(sink: Sink, admin_token: str) -> list[str]:
    """Every request a receiver got, without the one field it reads its credential from, and every mail."""
    found = []
    for request in sink.requests():
        headers = {name: value for name, value in request["headers"].items() if name.lower() != "authorization"}
        body = dict(request["body"]) if isinstance(request["body"], dict) else request["body"]
        if isinstance(body, dict):
            body.pop("routing_key", None)
        path = "" if "/webhook/" in request["path"] else request["path"]
        found += leaks(json.dumps([path, headers, body]), admin_token)
    return found + leaks(json.dumps(sink.get("mail")), admin_token)


def files_text(root: Path, skip: tuple[str, ...] = ()) -> str:
    return "".join(path.read_text(errors="replace") for path in root.rglob("*")
                   if path.is_file() and not any(part in skip for part in path.parts) and path.name not in skip)


@pytest.mark.reliability
@pytest.mark.parametrize("kind", ["level1", "level2", "level3", "rollforward", "drill"])
def test_no_secret_at_vvv_in_a_level(runner, api, sink, moto_server, kind):
    case = Case("secrets", f"{kind} at -vvv")
    inventory = dict(receivers(sink, webhook=kind in ("level1", "drill")), **aws(moto_server))
    args = ["-vvv", "-e", "hybrid_routing_requester=alice", "-e", f"hybrid_routing_approver={APPROVER[kind]}"]
    if kind == "level3":  # both release strategies' credentials: the Lambda aliases use the AWS keys
        moto_server.seed()
        inventory.update(hybrid_routing_release_strategy="aws_lambda_alias",
                         hybrid_routing_lambda_functions=list(moto_server.FUNCTIONS))
    outputs = []
    if kind == "rollforward":
        before = runner.run(PLAYBOOKS["level3"], "-vvv", "-e", "hybrid_routing_requester=alice", "-e",
                            "hybrid_routing_approver=cara", inventory_vars=inventory)
        assert before.rc == 0, before.output[-3000:]
        outputs.append(before.output)
    if kind == "drill":
        args += ["-e", "hybrid_routing_drill=true"]
    run = runner.run(PLAYBOOKS["level2" if kind == "drill" else kind], *args, inventory_vars=inventory)
    case.run(run.seconds, run.rc == 0)
    assert run.rc == 0, run.output[-3000:]
    outputs.append(run.output)
    found = {"output": leaks("".join(outputs), api.token),
             "files (audit, report, log, state)": leaks(files_text(runner.state_dir), api.token),
             "messages": message_leaks(sink, api.token)}
    for name, value in SECRET.items():  # where, to mend it
        at = "".join(outputs).find(value)
        assert at < 0, f"{name} in the output: ...{''.join(outputs)[max(0, at - 300):at + 60]}..."
    assert not any(found.values()), found
    assert sink.requests(), "the receivers were told (the markers were really in use)"
    written = sorted({path.suffix for path in runner.state_dir.rglob("*") if path.is_file()})
    case.note = (f"0 markers in output ({len(run.output)} chars at -vvv), files {written}, "
                 f"{len(sink.requests())} messages")
    case.save()


@pytest.mark.reliability
def test_no_secret_at_vvv_in_auto_rollback(runner, monitored, sink, moto_server):
    case = Case("secrets", "auto_rollback at -vvv")
    runner.sandbox = monitored
    monitored.set_faults({"incident": {"kind": "flag", "history_seconds": 150}})
    time.sleep(1.5)
    inventory = dict(receivers(sink, webhook=False), **aws(moto_server), hybrid_routing_api_base=monitored.base,
                     hybrid_routing_environment=monitored.environment, hybrid_routing_trigger_rules=fast_rules(),
                     hybrid_routing_auto_recovery_interval_seconds=2)
    inventory.pop("hybrid_routing_people")
    run = runner.run(AUTO, "-vvv", inventory_vars=inventory, env={"ADMIN_TOKEN": monitored.token})
    case.run(run.seconds, run.rc == 0)
    assert run.rc == 0, run.output[-3000:]
    found = {"output": leaks(run.output, monitored.token),
             "files": leaks(files_text(runner.state_dir), monitored.token),
             "messages": message_leaks(sink, monitored.token)}
    assert not any(found.values()), found
    assert not monitored.flags()["hybrid_routing"]
    case.note = f"0 markers in output ({len(run.output)} chars at -vvv), files and {len(sink.requests())} messages"
    case.save()


@pytest.mark.reliability
@pytest.mark.usefixtures("api")
def test_no_secret_at_debug_verbosity_in_the_awx_artifacts(tmp_path, sandbox, sink, moto_server):
    from test_awx import run_template

    case = Case("secrets", "AWX job (Level 2) at verbosity 3, artifacts")
    credential = {"admin_token": sandbox.token, "slack_webhook_url": sink.base + SECRET["webhook"],
                  "pagerduty_routing_key": SECRET["pagerduty"], "smtp_password": SECRET["smtp_password"],
                  "aws_access_key_id": SECRET["aws_access_key"], "aws_secret_access_key": SECRET["aws_secret_key"]}
    inventory = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "hybrid_routing_api_base": sandbox.base, "hybrid_routing_validate_certs": False,
                 "hybrid_routing_state_dir": str(tmp_path / "state"), "hybrid_routing_environment": "awx-itest",
                 "hybrid_routing_aws_endpoint_url": moto_server.url, "hybrid_routing_aws_region": moto_server.REGION,
                 "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue",
                 "hybrid_routing_people": PEOPLE}
    started = time.monotonic()
    job, _artifact, stdout = run_template(tmp_path, "Hybrid routing rollback - Level 2",
                                          {"hybrid_routing_requester": "alice", "hybrid_routing_approver": "mark",
                                           "hybrid_routing_reason": "secrets check"}, credential, inventory,
                                          verbosity=3)
    case.run(time.monotonic() - started, job.status == "successful")
    assert job.status == "successful", stdout[-3000:]
    assert "task path:" in stdout and "PLAYBOOK: rollback_level2.yml" in stdout, "the job ran at debug verbosity"
    # Not the runner's own copies of its input (env/ and artifacts/*/command hold the injected environment, as
    # AWX's credential does); everything else: job events, stdout, custom stats, fact cache, the state written.
    found = {"stdout": leaks(stdout, sandbox.token),
             "artifacts and state": leaks(files_text(tmp_path, skip=("env", "command")), sandbox.token),
             "messages": message_leaks(sink, sandbox.token)}
    assert not any(found.values()), found
    events = len(list(tmp_path.rglob("job_events/*.json")))
    case.note = f"0 markers in stdout ({len(stdout)} chars) and {events} job events"
    case.save()
