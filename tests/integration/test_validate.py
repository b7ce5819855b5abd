"""playbooks/validate.yml end to end: a pass/fail line per check with its reason, strictly read-only outside
staging (the sandbox's change log and moto's request log prove it), failing checks named, and in staging the
drills run and recorded in the drill history."""

from __future__ import annotations

import secrets

from hrtest import aws_vars, http

PLAYBOOK = "playbooks/validate.yml"
PEOPLE = {"alice": {"roles": ["on_call"]}, "mark": {"roles": ["engineering_manager"]}, "cara": {"roles": ["cto"]}}


def flat(text: str) -> str:
    return " ".join(text.split())


def inventory(moto, sink, **extra) -> dict:
    environment = f"validate-{secrets.token_hex(3)}"  # CloudWatch keeps what other tests published
    values = dict(aws_vars(moto), hybrid_routing_environment=environment, hybrid_routing_people=PEOPLE,
                  hybrid_routing_slack_webhook_url=f"{sink.base}/slack/webhook/T/B/validate")
    values.update(extra)
    return values


def test_production_validation_passes_reads_only_and_reports_overdue_drills(runner, api, moto_server, sink):
    mark = moto_server.mark()
    run = runner.run(PLAYBOOK, inventory_vars=inventory(moto_server, sink))
    assert run.rc == 0, run.output
    output = flat(run.output)
    for line in ("PASS token present and accepted, API reachable: the API answered and accepted the token",
                 "PASS health endpoint reachable: /health answered: healthy",
                 "PASS CloudWatch reachable", "PASS notification channels configured: configured: slack",
                 "PASS a previous release to go back to: Level 3 would go back to 2025.01.10-1",
                 "PASS rollback lock free", "PASS approvers configured: 3 people",
                 "PASS level3 complete: roles flag_disable, traffic_mcp_only, release_revert, target 600s, "
                 "runbook section, drill level3_drill",
                 "level2_drill: last success never", "OVERDUE", "checks passed; drills overdue: dr_drill"):
        assert line in output, (line, output[-3000:])
    assert api.changes() == [], "validation writes nothing"
    assert moto_server.calls("PutMetricData", mark) == 0 and moto_server.calls("GetMetricData", mark) == 1
    assert sink.requests() == [], "validation tells nobody anything"


def test_failing_checks_are_named_with_their_reason(runner, api, moto_server, sink):
    status, body = http("POST", f"{api.base}/admin/locks/rollback", api.token,
                        {"holder": "someone-else", "reason": "deploy", "ttl_seconds": 300})
    assert status in (200, 201), body
    run = runner.run(PLAYBOOK, inventory_vars=inventory(moto_server, sink, hybrid_routing_people={},
                                                        hybrid_routing_slack_webhook_url=""))
    assert run.rc == 2, run.output
    output = flat(run.output)
    assert "FAIL rollback lock free:" in output and "someone-else" in output
    assert "FAIL approvers configured: hybrid_routing_people names nobody" in output
    assert "FAIL notification channels configured: no channel" in output
    assert "FAILED: notification channels configured, rollback lock free, approvers configured;" in output
    assert [c["path"] for c in api.changes()] == ["/admin/locks/rollback"], "only the test's own lock"

    wrong = runner.run(PLAYBOOK, token="not-the-token", inventory_vars=inventory(moto_server, sink))
    assert wrong.rc == 2
    assert "FAIL token present and accepted, API reachable:" in flat(wrong.output)
    assert "rejected the credentials (401" in flat(wrong.output)


def test_staging_validation_runs_the_drills_and_they_enter_the_history(runner, api, moto_server, sink):
    run = runner.run(PLAYBOOK, "-e", "hybrid_routing_requester=alice", "-e", "hybrid_routing_approver=cara",
                     inventory_vars=inventory(moto_server, sink, hybrid_routing_validate_run_drills=True))
    assert run.rc == 0, run.output
    output = flat(run.output)
    assert "PASS drills run in staging: Level 1" in output and "roll-forward" in output
    assert "drills overdue" not in output, "the drills just ran: none is overdue"
    for drill in ("level1_drill", "level2_drill", "level3_drill", "dr_drill"):
        assert f"{drill}: last success 20" in output
    flags = api.flags()
    assert flags["hybrid_routing"] and api.get("/admin/routing")["mode"] == "hybrid", "rolled forward again"
    assert all("[DRILL]" in item["body"]["text"] for item in sink.requests("/slack/"))
