"""The run and its report (plugin_utils/_report.py): what the frame used to compute in Jinja, now tested here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._report import (
    RunInputError,
    build_report,
    changes,
    follow_ups,
    outcome,
    phase_seconds,
    plan,
    recovery,
    start_run,
    timeline,
)

T0 = 1_800_000_000.0
# What an earlier run's result in the play reads as once the frame set it aside (roles/hybrid_routing/tasks).
FRAME = Path(__file__).resolve().parents[4] / "roles" / "hybrid_routing"
NOT_RUN = yaml.safe_load((FRAME / "vars" / "main.yml").read_text())["__hybrid_routing_no_result"]


def run(level=1, direction="back", dry_run=False, target=None):
    started = start_run(level, direction, "prod-eu", {} if target is None else {f"level{level}": target}, "alice",
                        900, dry_run, now=T0)
    return started


# -- start_run -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "level, direction, label, target",
    [(1, "back", "Level 1 rollback (feature flags)", 120.0),
     (2, "back", "Level 2 rollback (MCP-only traffic)", 300.0),
     (3, "back", "Level 3 rollback (full release revert)", 600.0),
     (1, "forward", "Roll-forward", 600.0)],
)
def test_a_run_is_named_and_gets_its_target(level, direction, label, target):
    started = start_run(level, direction, "prod-eu", {}, "alice", 900, False, now=T0)
    assert started["label"] == label and started["target_seconds"] == target
    assert started["deadline"] == T0 + target and started["started_at"] == T0
    assert re.fullmatch(r"rb-20270115T\d{6}Z-[0-9a-f]{4}", started["id"])


def test_targets_given_in_part_keep_the_other_defaults():
    """The prod inventory named no rollforward target: the roll-forward still has one (issue 6, point 5)."""
    started = start_run(1, "forward", "prod-eu", {"level1": 90, "level2": 240, "level3": 480}, "alice", 900, False)
    assert started["target_seconds"] == 600.0


@pytest.mark.parametrize(
    "targets, ttl, operator, message",
    [({"level2": 0}, 900, "alice", "hybrid_routing_targets.level2 must be a positive number of seconds, got 0"),
     ({"level2": "soon"}, 900, "alice", "hybrid_routing_targets.level2 must be a number of seconds"),
     ({}, 200, "alice", "hybrid_routing_lock_ttl_seconds (200) must cover the target of 300s"),
     ({}, -5, "alice", "hybrid_routing_lock_ttl_seconds must be a positive number of seconds, got -5"),
     ({}, 900, " ", "set hybrid_routing_operator")],
    ids=["zero-target", "not-a-number", "lease-shorter-than-target", "negative-lease", "nobody"],
)
def test_inputs_only_the_frame_knows_are_refused_with_the_inventory_name(targets, ttl, operator, message):
    with pytest.raises(RunInputError, match=re.escape(message)):
        start_run(2, "back", "prod-eu", targets, operator, ttl, False)


# -- the plan ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("level, direction, channels, actions, release", [
    (1, "back", ["pagerduty"], ["flag_disable"], None),
    (2, "back", ["pagerduty", "slack"], ["flag_disable", "traffic_mcp_only"], None),
    (3, "back", ["slack", "email"], ["flag_disable", "traffic_mcp_only", "release_revert"], "aws_lambda_alias"),
    (3, "back", ["statuspage"], ["flag_disable", "notify", "traffic_mcp_only", "release_revert"], "aws_lambda_alias"),
    (3, "back", ["phone"], ["flag_disable", "notify", "traffic_mcp_only", "release_revert"], "aws_lambda_alias"),
    (3, "forward", ["pagerduty"], ["rollforward"], None),
], ids=["l1", "l2-no-start-page", "l3-slack-only", "l3-status-page", "l3-hotline", "forward"])
def test_the_plan_is_what_the_frame_runs(level, direction, channels, actions, release):
    """The flags go first; the start page right after them, only for Level 3 and a channel that acts at the start."""
    planned = plan(level, direction, "aws_lambda_alias", channels)
    assert (planned["actions"], planned["release"]) == (actions, release)
    assert planned["verify"] == {"wait_timeout": 30.0, "deadline": None}


@pytest.mark.parametrize("level, direction, strategy, checks", [
    (1, "back", "admin_api", ["flags", "lock"]),
    (2, "back", "admin_api", ["flags", "routing", "lock"]),
    (3, "back", "admin_api", ["flags", "routing", "snapshot", "release", "lock"]),
    (3, "back", "aws_lambda_alias", ["flags", "routing", "snapshot", "lambda", "lock"]),
    (1, "forward", "aws_lambda_alias", ["stored", "release", "lambda", "routing", "lock"]),
])
def test_the_plan_names_the_preflight_checks(level, direction, strategy, checks):
    assert plan(level, direction, strategy, [])["checks"] == checks


def test_the_plan_says_how_long_verification_waits():
    assert plan(1, "back", "admin_api", [], 0, T0 + 120)["verify"] == {"wait_timeout": 30.0, "deadline": T0 + 120}
    assert plan(1, "back", "admin_api", [], -5, T0 + 120)["verify"] == {"wait_timeout": 30.0, "deadline": T0 + 120}
    assert plan(3, "back", "admin_api", [], 45, T0 + 600)["verify"] == {"wait_timeout": 45.0, "deadline": None}
    assert plan(1, "forward", "admin_api", [], 0, T0 + 300)["verify"]["deadline"] == T0 + 300


# -- phases, changes, outcome ----------------------------------------------------------------------------------

def test_phases_end_when_their_last_result_of_this_run_finished():
    current = run()
    results = {
        "preflight": [{"finished_at": T0 + 0.25}, {"skipped": True}, {"finished_at": T0 + 0.5}],
        "lock": NOT_RUN,  # an earlier run's lock, set aside by the frame: not this run's phase
        "snapshot": {"finished_at": T0 + 0.75},
        "flags": {"finished_at": T0 + 1.0}, "routing": {"finished_at": T0 + 1.5},
    }
    assert phase_seconds(current, results, None) == {"preflight": 0.5, "snapshot": 0.25, "actions": 0.75}
    failed = phase_seconds(current, results, {"task": "Wait", "msg": "x", "at": T0 + 4.0})
    assert list(failed) == ["preflight", "snapshot", "actions", "failed step"] and failed["failed step"] == 2.5
    # The failed step's own result finished a little after the rescue read the clock: never a negative phase.
    late = phase_seconds(current, results, {"task": "Snapshot", "msg": "x", "at": T0 + 0.98})
    assert late["failed step"] == 0.0


def test_recovery_is_verified_healthy_with_its_time_and_any_worse_poll():
    current = run()
    verify = {"finished_at": T0 + 6.5, "status": "healthy",
              "samples": [{"status": "unhealthy"}, {"status": "healthy"}]}
    assert recovery(current, {"verify": verify}) == {"verified": True, "seconds": 6.5, "health_degraded": True}
    calm = dict(verify, samples=[{"status": "healthy"}])
    assert recovery(current, {"verify": calm})["health_degraded"] is False
    failed = dict(verify, status="unreachable", failed=True)
    assert recovery(current, {"verify": failed}) == {"verified": False, "seconds": None, "health_degraded": True}
    assert recovery(current, {"verify": T0 + 1}) == {"verified": False, "seconds": None, "health_degraded": False}


def test_changes_list_each_kind_once_and_skip_results_set_aside():
    current = run(level=3)
    fresh = T0 + 1
    results = {
        "snapshot": {"changed": True, "path": "/state/prod-eu/snapshot.json", "finished_at": fresh},
        "flags": {"changed": True, "changes": {"b": {"before": True, "after": False},
                                               "a": {"before": True, "after": False}}, "finished_at": fresh},
        "routing": {"changed": True, "routing": {"mode": "mcp_only"}, "finished_at": fresh},
        "release": {"changed": True, "release": {"current": "2025.01.10-1"}, "finished_at": fresh},
        "forward": {"changed": False, "release": NOT_RUN, "lambda": NOT_RUN, "routing": NOT_RUN, "flags": NOT_RUN,
                    "finished_at": 0},  # the roll-forward role's result once the frame set its registers aside
    }
    assert changes(current, results) == ["flags a=False, b=False", "routing mcp_only", "release 2025.01.10-1",
                                         "snapshot /state/prod-eu/snapshot.json"]


def test_changes_of_a_roll_forward_and_of_the_lambda_strategy():
    current = run(direction="forward")
    forward = {"finished_at": T0 + 1, "release": {"changed": False},
               "lambda": {"changed": True, "aliases": {"fn": {"before": "2", "after": "3"}}},
               "routing": {"changed": True, "routing": {"mode": "hybrid"}},
               "flags": {"changed": True, "changes": {"hybrid_routing": {"before": False, "after": True}}}}
    assert changes(current, {"forward": forward}) == ["Lambda alias fn=3", "routing hybrid",
                                                      "flags hybrid_routing=True"]
    lambda_revert = {"changed": True, "aliases": {"fn": {"before": "3", "after": "2"}}, "release": None,
                     "finished_at": T0 + 1}
    assert changes(run(level=3), {"release": lambda_revert}) == ["Lambda alias fn=2"]


@pytest.mark.parametrize(
    "failed, dry_run, elapsed, expected",
    [(False, False, 100, "success"), (False, False, 121, "target_missed"), (True, False, 5, "failed"),
     (False, True, 500, "dry_run"), (True, True, 5, "failed")],
)
def test_outcome(failed, dry_run, elapsed, expected):
    assert outcome(failed, dry_run, elapsed, 120) == expected


# -- the report and its one summary ------------------------------------------------------------------------------

FALLBACK = {"level": 2, "direction": "back", "environment": "prod-eu", "operator": "alice", "dry_run": False}


def report(current, now_offset=3.0, **kwargs):
    # Each action of the level ran, unchanged (an already rolled-back service), unless the test says otherwise.
    results = {"preflight": [{"finished_at": T0 + 1}], "unlock": {"finished_at": T0 + 2},
               "flags": {"finished_at": T0 + 1.2}, "routing": {"finished_at": T0 + 1.3},
               "release": {"finished_at": T0 + 1.4, "release": {"current": "r1"}},
               "forward": {"finished_at": T0 + 1.5}}
    results.update(kwargs.pop("results", {}))
    return build_report(current, results, kwargs.pop("failure", None), kwargs.pop("nothing_to_do", False), FALLBACK,
                        now=T0 + now_offset)


def test_success_summary():
    current = run()
    done = report(current, results={"flags": {"changes": {"hybrid_routing": {"after": False}},
                                              "finished_at": T0 + 1.5}})
    assert done["outcome"] == "success" and done["elapsed_seconds"] == 3.0
    assert done["summary"].startswith("Level 1 rollback (feature flags) of prod-eu: done in 3s (target 120s). "
                                      "Changed: flags hybrid_routing=False. "
                                      "Phases: preflight 1s, actions 0.5s, unlock 0.5s.")
    assert f"Operator alice, rollback id {current['id']}." in done["summary"]


def test_missed_target_is_not_a_failure_but_says_so():
    done = report(run(target=2))
    assert done["outcome"] == "target_missed"
    assert "done in 3s (target 2s, MISSED)" in done["summary"]
    assert "Changed: nothing (already in the wanted state)." in done["summary"]


def test_dry_run_says_what_would_change():
    done = report(run(dry_run=True), results={"routing": {"changed": True, "routing": {"mode": "mcp_only"},
                                                          "finished_at": T0 + 1}})
    assert done["outcome"] == "dry_run" and "DRY RUN in 3s" in done["summary"]
    assert "Would change: routing mcp_only." in done["summary"]


def test_failure_lock_takeover_and_unlock_error_are_all_told():
    results = {"lock": {"taken_over": True, "previous": {"holder": "bob"}, "finished_at": T0 + 1},
               "unlock": {"failed": True, "msg": "answered 503", "finished_at": T0 + 2}}
    done = report(run(), results=results, failure={"task": "Revert the release", "msg": "deployment failed",
                                                   "at": T0 + 1.5})
    assert done["outcome"] == "failed"
    text = done["summary"]
    assert "FAILED in 3s" in text and "Took the lock over from bob." in text
    assert 'Failed at "Revert the release": deployment failed' in text
    assert "The lock could not be released (answered 503)" in text
    assert "Next: once the cause above is gone, run playbooks/rollback_level" in text and "again for prod-eu" in text


def test_a_failure_says_what_to_run_next():
    forward = report(run(direction="forward"), failure={"task": "Restore", "msg": "deployment d-1 failed",
                                                        "at": T0 + 1})
    assert "Next: once the cause above is gone, run playbooks/rollforward.yml again" in forward["summary"]
    # A module that already says what to do is not contradicted.
    busy = "Another deployment is in progress: d-2. Wait for it to finish, then run again."
    held = report(run(), failure={"task": "Deploy", "at": T0 + 1, "msg": busy})
    assert "Next: as the message says, then run playbooks/rollback_level" in held["summary"]
    assert "Next:" not in report(run())["summary"]


@pytest.mark.parametrize("level, dry_run, results, undone", [
    # Level 3 whose release step never ran (an unknown strategy once selected none): not done, not success.
    (3, False, {"release": None}, "revert the release"),
    (3, True, {"release": None}, "revert the release"),
    # A release result of an earlier run in the same play, as the frame sets it aside: not this run's.
    (3, False, {"release": {"finished_at": 0, "changed": False, "release": None, "aliases": None}},
     "revert the release"),
    # The role ran, but neither strategy's step did (its result carries no release and no aliases).
    (3, False, {"release": {"finished_at": T0 + 1.4, "changed": False, "release": None, "aliases": None}},
     "revert the release"),
    (2, False, {"routing": {"finished_at": 0}}, "force all traffic to MCP-only"),
    (1, False, {"flags": None}, "turn the feature flags off"),
], ids=["l3-no-release", "l3-dry-run", "l3-earlier-run", "l3-no-strategy", "l2-no-routing", "l1-no-flags"])
def test_a_level_without_its_own_result_is_never_success(level, dry_run, results, undone):
    done = report(run(level=level, dry_run=dry_run), results=results)
    assert done["outcome"] == "failed", done["summary"]
    assert f"did not {undone}: its step has no result of this run" in done["summary"]
    assert done["failure"]["task"] == "Run the level's actions"


def test_a_level3_rerun_whose_release_is_already_reverted_is_done():
    """The release module read the release and left it (an earlier run moved it): the level's own result."""
    done = report(run(level=3), results={"release": {"finished_at": T0 + 1.4, "changed": False,
                                                     "release": {"current": "r0"}}})
    assert done["outcome"] == "success", done["summary"]
    lambda_done = report(run(level=3), results={"release": {"finished_at": T0 + 1.4, "changed": False,
                                                            "release": None, "aliases": {"f": {"after": "3"}}}})
    assert lambda_done["outcome"] == "success"


def test_a_roll_forward_without_its_restore_is_not_done():
    assert report(run(direction="forward"), results={"forward": None})["outcome"] == "failed"


def test_nothing_to_roll_forward():
    done = report(run(direction="forward"), nothing_to_do=True)
    assert "Roll-forward of prod-eu: done" in done["summary"]
    assert "Nothing to roll forward: no snapshot is stored" in done["summary"]
    assert done["changes"] == []


def test_a_failed_read_is_not_nothing_to_roll_forward():
    done = report(run(direction="forward"), nothing_to_do=True,
                  failure={"task": "Read the snapshot", "msg": "refusing to use it here", "at": T0 + 1})
    assert "Nothing to roll forward" not in done["summary"] and "refusing to use it here" in done["summary"]


def test_a_run_refused_before_it_started():
    done = build_report(None, {}, {"task": "Name the run", "msg": "hybrid_routing_targets.level2 must be ...",
                                   "at": T0}, False, FALLBACK, now=T0 + 0.1)
    assert done["outcome"] == "failed" and done["rollback_id"] == "not started"
    assert done["summary"].startswith("Level 2 rollback (MCP-only traffic) of prod-eu: FAILED in 0.1s (not started).")


def test_the_timeline_lists_this_runs_steps_in_order():
    current = run(level=2)
    results = {"lock": {"finished_at": T0 + 0.5}, "snapshot": {"finished_at": T0 + 0.8, "changed": True},
               "flags": {"finished_at": T0 + 1.0, "changed": True}, "routing": {"finished_at": T0 + 3.0},
               "release": {"skipped": True}, "verify": {"finished_at": T0 + 4.0},
               "unlock": NOT_RUN}  # an earlier run's, set aside by the frame: not in this timeline
    report = {"operator": "alice", "trigger": "manual", "authorization": {"reason": "Level 2 approved by mark"},
              "failure": None}
    events = [e["event"] for e in timeline(current, results, report)]
    assert events[0].endswith("started by alice (trigger: manual)")
    assert events[1:] == ["Level 2 approved by mark", "Rollback lock acquired", "State snapshot taken",
                          "Feature flags turned off", "Traffic already MCP-only", "Recovery verified"]
    assert timeline(current, results, report)[2]["at"] == "2027-01-15T08:00:00.500Z"


def test_follow_ups_are_the_seeds_with_dates():
    assert follow_ups(T0) == [{"task": "Post-incident review", "due": "2027-01-16"},
                              {"task": "Root cause analysis", "due": "2027-01-22"},
                              {"task": "Implement the improvements", "due": "2027-01-29"}]
