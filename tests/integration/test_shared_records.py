"""Records that outlive the controller (issue 19): every run's audit record, incident report, run log and
notification state go to the shared store (S3, moto's server here), one chain per environment across every
controller and job container.

- AWX: consecutive jobs through ansible-runner, each with a fresh private data dir and a fresh HOME (the job
  container's ephemeral home): one chain, every report and log retrievable by rollback id, one page per incident.
- Two controllers, each with its own HOME and state dir, start 20 rollbacks at once against one store: one chain with
  every record, none lost, none forked.
- playbooks/audit_verify.yml, as a user runs it, says the chain's state and names a deleted or edited record.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from test_awx import SECRETS, run_template

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _audit
from hrtest import TEST_AWS_SECRET, aws_vars
from sandbox.aws_seed import ensure_records_bucket

LEVEL1 = "playbooks/rollback_level1.yml"
LEVEL3 = "playbooks/rollback_level3.yml"
PREFIX = "hybrid-routing"


class Store:
    """A records bucket of its own (Object Lock on) in the session's moto."""

    def __init__(self, moto: Any):
        self.bucket = f"records-{secrets.token_hex(4)}"
        ensure_records_bucket(moto.url, moto.REGION, self.bucket, log=lambda _line: None)
        self.aws = {"endpoint_url": moto.url, "region": moto.REGION, "access_key": "testing",
                    "secret_key": "testing", "aws_max_attempts": 2}
        self.client = boto3.client("s3", endpoint_url=moto.url, region_name=moto.REGION,
                                   aws_access_key_id="testing", aws_secret_access_key="testing")

    def chain(self, environment: str) -> str:
        return f"s3://{self.bucket}/{PREFIX}/{environment}/audit/"

    def verify(self, environment: str) -> dict[str, Any]:
        return _audit.verify(self.chain(environment), keep_last=1000, aws=self.aws)

    def text(self, key: str) -> str:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()

    def report_and_log(self, environment: str, rollback_id: str) -> tuple[str, str]:
        base = f"{PREFIX}/{environment}/reports/{rollback_id}"
        return self.text(base + ".md"), self.text(base + ".log")

    def record_key(self, environment: str, seq: int) -> str:
        return f"{PREFIX}/{environment}/audit/records/{seq:012d}.json"


def test_awx_jobs_in_fresh_containers_share_one_chain_and_one_page(tmp_path, api, moto_server, sink):
    """Level 3, the same Level 3 again (a re-run after the recovery), the roll-forward: three jobs, three fresh
    homes, nothing on any controller disk; the store holds the whole story and PagerDuty rang once."""
    store = Store(moto_server)
    environment = f"awx-{secrets.token_hex(3)}"
    credential = {"admin_token": api.token, "pagerduty_routing_key": SECRETS["pagerduty_routing_key"],
                  "aws_access_key_id": "testing", "aws_secret_access_key": TEST_AWS_SECRET}
    # No hybrid_routing_state_dir: the default (~/.local/state/...) is in the job's fresh HOME, gone after it.
    inventory = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "hybrid_routing_api_base": api.base, "hybrid_routing_validate_certs": False,
                 "hybrid_routing_environment": environment, "hybrid_routing_records_bucket": store.bucket,
                 "hybrid_routing_aws_endpoint_url": moto_server.url, "hybrid_routing_aws_region": moto_server.REGION,
                 "hybrid_routing_pagerduty_events_url": f"{sink.base}/pagerduty/v2/enqueue",
                 "hybrid_routing_people": {"alice": {"roles": ["on_call"]}, "mark": {"roles": ["engineering_manager"]},
                                           "cara": {"roles": ["cto"]}}}
    answers = {"hybrid_routing_reason": "records drill", "hybrid_routing_requester": "alice",
               "hybrid_routing_dry_run": "false"}
    homes, reports = [], []
    for job, (name, approver) in enumerate((("Hybrid routing rollback - Level 3", "cara"),
                                            ("Hybrid routing rollback - Level 3", "cara"),
                                            ("Hybrid routing roll-forward", "mark"))):
        home = tmp_path / f"home-{job}"
        runner, artifact, stdout = run_template(tmp_path, name, {**answers, "hybrid_routing_approver": approver},
                                                credential, inventory, home=home)
        assert runner.status == "successful", stdout[-4000:]
        reports.append(artifact["hybrid_routing_rollback"]["itest"])
        homes.append(home)
    assert [report["outcome"] for report in reports] == ["success", "success", "success"], reports
    found = store.verify(environment)
    assert found["valid"], found["first_broken"]
    assert [r["rollback_id"] for r in found["last_records"]] == [report["rollback_id"] for report in reports]
    for report in reports:
        markdown, log = store.report_and_log(environment, report["rollback_id"])
        assert report["rollback_id"] in markdown and "judge the run and write its report" not in markdown
        assert "PLAYBOOK" in log and "judge the run and write its report" in log
        # The artifact AWX keeps links to the records in the store.
        links = report["records"]
        assert links["audit"] == f"s3://{store.bucket}/{PREFIX}/{environment}/audit/"
        assert links["report"] == f"s3://{store.bucket}/{PREFIX}/{environment}/reports/{report['rollback_id']}.md"
        assert links["record_id"] in {record["record_id"] for record in found["last_records"]}
    pages = [page for page in sink.get("pagerduty")["pages"] if environment in page["dedup_key"]]
    assert len(pages) == 1, f"one page for the incident across jobs and the re-run, got {pages}"
    state = json.loads(store.text(f"{PREFIX}/{environment}/notifications.json"))
    assert [entry.get("status") for entry in state.values()] == ["resolved"], state
    left = [str(path) for home in homes for path in home.rglob("*") if (path.is_file()
            and path.suffix in (".jsonl", ".md", ".log")) or path.name == "notifications.json"]
    assert left == [], f"records on a job's disk: {left}"


def _controller(tmp_path: Path, name: str) -> tuple[dict[str, str], Path]:
    home, state = tmp_path / name / "home", tmp_path / name / "state"
    home.mkdir(parents=True)
    return {"HOME": str(home)}, state


# Twenty ansible-playbook processes at once take both cores for half a minute: run with nothing else, so that the
# timing goals of other tests are not measured beside them.
@pytest.mark.alone
def test_two_controllers_twenty_rollbacks_at_once_keep_one_chain(runner, moto_server):
    store = Store(moto_server)
    environment = f"fleet-{secrets.token_hex(3)}"
    shared = dict(aws_vars(moto_server), hybrid_routing_environment=environment,
                  hybrid_routing_records_bucket=store.bucket)
    controllers = [_controller(runner.tmp_path, name) for name in ("controller-a", "controller-b")]
    started = []
    for number in range(20):
        env, state = controllers[number % 2]
        started.append(runner.start(LEVEL1, env=env, inventory_vars=dict(
            shared, hybrid_routing_state_dir=str(state), hybrid_routing_operator=f"op{number}")))
    runs = runner.finish_all(started, timeout=600)
    reports = [run.by_action("matbakh.hybrid_routing.rollback_report")[-1]["report"] for run in runs]
    assert sorted(report["outcome"] for report in reports).count("success") == 1, [r["summary"] for r in reports]
    found = store.verify(environment)
    assert found["valid"], found["first_broken"]
    assert found["records"] == 20
    assert sorted(r["rollback_id"] for r in found["last_records"]) == sorted(r["rollback_id"] for r in reports)
    for report in reports:
        markdown, log = store.report_and_log(environment, report["rollback_id"])
        assert report["rollback_id"] in markdown and "PLAYBOOK" in log
    for _env, state in controllers:
        assert not any(path.name in ("audit.jsonl", "notifications.json") for path in state.rglob("*"))

    # playbooks/audit_verify.yml as a user runs it: the state, then a deleted and an edited record named.
    inventory = runner.inventory(**shared)
    verified = runner.run("playbooks/audit_verify.yml", inventory=inventory)
    assert verified.rc == 0, verified.output[-3000:]
    assert f"{store.chain(environment)} holds 20 records; the chain is intact" in " ".join(verified.stdout.split())
    store.client.delete_object(Bucket=store.bucket, Key=store.record_key(environment, 7))
    deleted = runner.run("playbooks/audit_verify.yml", inventory=inventory)
    text = " ".join(deleted.stdout.split())
    assert deleted.rc != 0 and f"s3://{store.bucket}/{store.record_key(environment, 7)} (seq 7)" in text, text[-2000:]
    assert "missing (deleted)" in text
    key = store.record_key(environment, 3)
    record = json.loads(store.text(key))
    record["outcome"] = "success"
    store.client.put_object(Bucket=store.bucket, Key=key, Body=json.dumps(record).encode())
    edited = runner.run("playbooks/audit_verify.yml", inventory=inventory)
    text = " ".join(edited.stdout.split())
    assert edited.rc != 0 and f"{key} (seq 3): its content does not match its hash (edited)" in text, text[-2000:]


def verdict(stdout: str) -> str:
    """The validation's line on the records (the debug output wraps it)."""
    text = " ".join(stdout.replace("\\n", " ").split())
    match = re.search(r"(PASS|FAIL) records in a shared store, chain intact, retention on: .*?(?=', '|PASS |FAIL |$)",
                      text)
    assert match, text[-3000:]
    return match.group(0)


@pytest.mark.parametrize("inventory_name", ["prod", "sandbox"])
def test_validate_fails_production_with_local_records(runner, moto_server, inventory_name):
    """validate.yml: a production inventory whose records are local fails, naming the fix; the shared store with
    Object Lock passes; the sandbox's local records pass."""
    store = Store(moto_server)
    group = yaml.safe_load((Path("inventories") / inventory_name / "group_vars" / "all.yml").read_text()) or {}
    common = dict(aws_vars(moto_server), hybrid_routing_production=group.get("hybrid_routing_production", False))
    local = runner.run("playbooks/validate.yml", inventory_vars=common)
    line = verdict(local.stdout)
    if inventory_name == "prod":
        assert "FAIL" in line and "Set hybrid_routing_records_bucket" in line, line
    else:
        assert "PASS" in line and "not a production inventory" in line, line
    shared = runner.run("playbooks/validate.yml",
                        inventory_vars=dict(common, hybrid_routing_records_bucket=store.bucket))
    line = verdict(shared.stdout)
    assert "PASS" in line and "Object Lock GOVERNANCE, 1 days" in line, line


def test_validate_fails_a_store_without_retention(runner, moto_server):
    """A bucket without Object Lock keeps records that anyone with write access can delete or overwrite."""
    bucket = f"records-unlocked-{secrets.token_hex(3)}"
    boto3.client("s3", endpoint_url=moto_server.url, region_name=moto_server.REGION, aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": moto_server.REGION})
    run = runner.run("playbooks/validate.yml", inventory_vars=dict(
        aws_vars(moto_server), hybrid_routing_production=True, hybrid_routing_records_bucket=bucket))
    line = verdict(run.stdout)
    assert run.rc != 0 and "FAIL" in line and "no Object Lock default retention" in line, line


def test_two_controllers_at_once_page_once(runner, api, moto_server, sink):
    """Level 3 started at the same moment from two controllers (each its own HOME) on one environment: one acts,
    the other is refused by the lock; PagerDuty holds one incident for the rollback, resolved, and the refusal is
    recorded in the same chain."""
    store = Store(moto_server)
    environment = f"page-{secrets.token_hex(3)}"
    shared = dict(aws_vars(moto_server), hybrid_routing_environment=environment,
                  hybrid_routing_records_bucket=store.bucket,
                  hybrid_routing_pagerduty_events_url=f"{sink.base}/pagerduty/v2/enqueue")
    controllers = [_controller(runner.tmp_path, name) for name in ("controller-a", "controller-b")]
    started = [runner.start(LEVEL3, inventory_vars=dict(shared, hybrid_routing_state_dir=str(state)),
                            env=dict(env, PAGERDUTY_ROUTING_KEY=SECRETS["pagerduty_routing_key"]))
               for env, state in controllers]
    runs = runner.finish_all(started, timeout=300)
    reports = [run.by_action("matbakh.hybrid_routing.rollback_report")[-1]["report"] for run in runs]
    assert sorted(report["outcome"] for report in reports).count("success") == 1, [r["summary"] for r in reports]
    assert store.verify(environment)["records"] == 2
    pages = [page for page in sink.get("pagerduty")["pages"] if environment in page["dedup_key"]]
    failures = [report["failure"] for report in reports]
    assert len({page["dedup_key"] for page in pages}) == 1, f"one PagerDuty incident per rollback: {pages} {failures}"
    assert [bool((failure or {}).get("busy")) for failure in failures].count(True) == 1, failures
    state = json.loads(store.text(f"{PREFIX}/{environment}/notifications.json"))
    assert [entry.get("status") for entry in state.values()] == ["resolved"], state
