"""The audit trail for real: runs of the real ansible-playbook append chained records (each action with its
state before and after), audit_trail_info finds tampering at the right record, two playbooks writing at once keep
the chain, personal data is refused, and the records can go to CloudWatch Logs (moto)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from hrtest import REPO, aws_vars

LEVEL2 = "playbooks/rollback_level2.yml"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def playbook(tmp_path: Path, name: str, tasks: list[dict]) -> str:
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"name": name, "hosts": "all", "gather_facts": False, "tasks": tasks}]))
    return str(path)


def verify_task(path: Path, **extra) -> dict:
    return {"name": "Verify", "matbakh.hybrid_routing.audit_trail_info": dict(path=str(path), **extra),
            "register": "trail"}


def test_every_run_is_recorded_and_tampering_is_found(runner, api, moto_server, tmp_path):
    trail = tmp_path / "audit.jsonl"
    inventory = dict(aws_vars(moto_server), hybrid_routing_audit_path=str(trail),
                     hybrid_routing_audit_log_group="/matbakh/hybrid-routing/audit")
    dry = runner.run(LEVEL2, "--check", inventory_vars=inventory)
    assert dry.rc == 0, dry.output
    assert not trail.exists()  # a dry run writes nothing
    real = runner.run(LEVEL2, inventory_vars=inventory)
    assert real.rc == 0, real.output
    again = runner.run(LEVEL2, inventory_vars=inventory)
    assert again.rc == 0, again.output

    reports = sorted((runner.state_dir / "itest" / "reports").glob("rb-*.md"))
    assert len(reports) == 2  # one per real run; the dry run wrote none
    report = reports[0].read_text()
    assert report.startswith("# Incident report: itest, Level 2 rollback")
    assert "- Outcome: **success**" in report and "| routing | True |" in report
    assert "Traffic forced to MCP-only" in report
    for heading in ("## Timeline (UTC)", "## Phases against the target (300 s)", "## State before and after",
                    "## Notifications", "## Audit", "## Follow-ups (lessons learned)"):
        assert heading in report, heading
    assert "Recovery verified" in report and "Rollback lock released" in report
    assert re.search(r"- \[ \] Post-incident review, due \d{4}-\d{2}-\d{2}", report)
    assert "Authorization not enforced" in report
    assert "moto-secret-4410" not in report and api.token not in report

    first, second = records(trail)
    assert (first["seq"], second["seq"]) == (1, 2) and second["prev"] == first["hash"]
    assert first["event"] == "rollback" and first["level"] == 2 and first["outcome"] == "success"
    assert first["operator"] == "itest-operator" and first["trigger"] == "manual"
    actions = {a["action"]: a for a in first["actions"]}
    assert actions["flags"]["before"]["hybrid_routing"] is True and actions["flags"]["after"]["hybrid_routing"] is False
    assert actions["routing"]["before"]["mode"] == "hybrid" and actions["routing"]["after"]["mode"] == "mcp_only"
    assert {a["action"] for a in second["actions"] if a["changed"]} == set()  # the second run changed nothing
    assert "moto-secret-4410" not in trail.read_text() and api.token not in trail.read_text()

    import boto3

    cw_logs = boto3.client("logs", endpoint_url=moto_server.url, region_name=moto_server.REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    shipped = cw_logs.filter_log_events(logGroupName="/matbakh/hybrid-routing/audit")["events"]
    assert [json.loads(e["message"])["hash"] for e in shipped][-2:] == [first["hash"], second["hash"]]

    ok = runner.run(playbook(tmp_path, "verify", [verify_task(trail, fail_when_broken=True)]))
    assert ok.rc == 0, ok.output

    edited = records(trail)
    edited[0]["operator"] = "mallory"
    trail.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in edited))
    broken = runner.run(playbook(tmp_path, "verify", [verify_task(trail, fail_when_broken=True)]))
    assert broken.rc == 2
    assert "is broken at line 1 (seq 1): its content does not match its hash (edited)" in " ".join(
        broken.output.split())


def test_two_playbooks_writing_at_once_keep_the_chain(runner, api, tmp_path):
    trail = tmp_path / "shared.jsonl"
    appends = playbook(tmp_path, "append", [{
        "name": "Append", "matbakh.hybrid_routing.audit_trail": {
            "path": str(trail), "record": {"event": "test", "writer": "{{ writer }}", "index": "{{ item }}"}},
        "loop": "{{ range(25) | list }}"}])
    procs = []
    for writer in ("a", "b"):
        cmd, env, _task_record = runner._prepare(appends, ("-e", f"writer={writer}"), None, None, None)
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for proc in procs:
        output, _stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, output.decode()
    stored = records(trail)
    assert len(stored) == 50 and sorted(r["writer"] for r in stored).count("a") == 25
    check = runner.run(playbook(tmp_path, "verify", [verify_task(trail, fail_when_broken=True)]))
    assert check.rc == 0, check.output


def test_personal_data_is_refused_before_writing(runner, api, tmp_path):
    trail = tmp_path / "pii.jsonl"
    run = runner.run(playbook(tmp_path, "pii", [{"name": "Append", "matbakh.hybrid_routing.audit_trail": {
        "path": str(trail), "record": {"event": "break_glass", "reason": "asked alice.doe@example.com first"}}}]))
    assert run.rc == 2
    assert "looks like personal data (reason: an email address); nothing was written" in " ".join(run.output.split())
    assert "alice.doe@example.com" not in run.stdout.replace('"reason": "asked alice.doe@example.com first"', "")
    assert not trail.exists()
