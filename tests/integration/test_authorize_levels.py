"""Who may run which level, end to end: refusals come before any write (the sandbox's change log stays empty),
allowed runs and break glass are recorded in the audit trail, and a run without people says so."""

from __future__ import annotations

import json

LEVEL2 = "playbooks/rollback_level2.yml"
LEVEL3 = "playbooks/rollback_level3.yml"
PEOPLE = {"alice": {"roles": ["on_call"]}, "bruno": {"roles": ["on_call"]},
          "mark": {"roles": ["engineering_manager"]}, "cara": {"roles": ["cto"]}}


def flat(text: str) -> str:
    return " ".join(text.split())


def last_record(runner) -> dict:
    trail = runner.state_dir / "itest" / "audit.jsonl"
    return json.loads(trail.read_text().splitlines()[-1])


def test_refusals_come_before_any_write(runner, api):
    for playbook, requester, approver, message in (
        (LEVEL2, "alice", "bruno", "Level 2 needs an approver with the role engineering_manager; 'bruno' has on_call"),
        (LEVEL3, "cara", "cara", "Level 3 cannot be approved by the person who requests it"),
        (LEVEL2, "zed", "", "The requester 'zed' is not in hybrid_routing_people"),
    ):
        run = runner.run(playbook, "-e", f"hybrid_routing_requester={requester}", "-e",
                         f"hybrid_routing_approver={approver}", inventory_vars={"hybrid_routing_people": PEOPLE})
        assert run.rc == 2, run.output
        assert f"Not authorized: {message}" in flat(run.output)
        assert "Nothing was read or written." in flat(run.output)
        assert api.changes() == []
        record = last_record(runner)
        assert record["outcome"] == "failed" and "Not authorized" in record["failure"]
        # Who was refused, and why: not "authorization: null".
        assert record["authorization"]["refused"] is True and record["authorization"]["requester"] == requester
        assert message in record["authorization"]["reason"]


def test_an_approved_run_and_a_break_glass_run_are_recorded(runner, api):
    run = runner.run(LEVEL2, "-e", "hybrid_routing_requester=alice", "-e", "hybrid_routing_approver=mark",
                     inventory_vars={"hybrid_routing_people": PEOPLE})
    assert run.rc == 0, run.output
    record = last_record(runner)
    assert record["authorization"]["authorized_by"] == "mark" and record["authorization"]["requester"] == "alice"

    api.reset()
    glass = runner.run(LEVEL2, "-e", "hybrid_routing_requester=alice", "-e",
                       json.dumps({"hybrid_routing_break_glass_reason": "manager not answering, errors at 40 percent"}),
                       inventory_vars={"hybrid_routing_people": PEOPLE})
    assert glass.rc == 0, glass.output
    assert "BREAK GLASS: Level 2 run by alice (on call)" in flat(glass.output)
    record = last_record(runner)
    assert record["authorization"]["break_glass"] is True
    assert record["authorization"]["break_glass_reason"] == "manager not answering, errors at 40 percent"
    assert api.get("/admin/routing")["mode"] == "mcp_only"


def test_personal_data_in_the_break_glass_reason_is_refused(runner, api):
    run = runner.run(LEVEL2, "-e", "hybrid_routing_requester=alice", "-e",
                     json.dumps({"hybrid_routing_break_glass_reason": "mark.m@example.com did not answer"}),
                     inventory_vars={"hybrid_routing_people": PEOPLE})
    assert run.rc == 2
    assert "The break-glass reason holds what looks like an email address" in flat(run.output)
    assert api.changes() == []


def test_without_people_every_summary_says_authorization_was_not_enforced(runner, api):
    run = runner.run("playbooks/rollback_level1.yml")
    assert run.rc == 0, run.output
    assert "Authorization not enforced: the inventory names no people" in flat(run.output)
    assert last_record(runner)["authorization"]["enforced"] is False
