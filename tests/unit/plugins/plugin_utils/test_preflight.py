"""Everything before the actions in one step (plugin_utils/_preflight.py): which module each check runs, with what,
in which order, then the lock and the snapshot, and what a refusal says. The modules' own rules are tested with the
modules; here a runner stands in for them."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._preflight import check_args, prepare
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._report import plan, start_run

INPUTS = {
    "flags": ["hybrid_routing", "direct_bedrock"], "snapshot_path": "/state/prod-eu/snapshot.json",
    "snapshot_force": False, "snapshot_max_age_seconds": 604800.0, "lambda_functions": ["router"],
    "lambda_alias": "live", "release_target": "", "rollforward_force": False, "release_wait_timeout": 420.0,
    "routing_wait_timeout": 120.0, "lock_takeover": False, "lock_ttl": 900.0,
}
STORED = {"environment": "prod-eu", "rollback_id": "rb-1", "flags": {"hybrid_routing": True},
          "routing": {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}},
          "release": {"current": "2025.01.14-2", "previous": "2025.01.02-1"}}


def a_run(level: int = 2, direction: str = "back", strategy: str = "admin_api") -> dict[str, Any]:
    run = start_run(level, direction, "prod-eu", {}, "alice", 900, False, now=1_800_000_000.0)
    run["plan"] = plan(level, direction, strategy, [])
    return run


class Service:
    """Answers each module like the module would, and records what it was asked."""

    def __init__(self, refuse: str | None = None, stored: dict[str, Any] | None = None, own_stale_lock=False):
        self.calls: list[tuple[str, dict[str, Any], bool]] = []
        self.refuse, self.stored, self.own_stale_lock = refuse, stored, own_stale_lock

    def __call__(self, module: str, args: dict[str, Any], check_only: bool) -> dict[str, Any]:
        self.calls.append((module, args, check_only))
        if module == self.refuse:
            return {"failed": True, "changed": False, "msg": f"{module} says no", "finished_at": 1.0}
        if module == "state_snapshot" and args.get("state") == "read":
            return {"changed": False, "snapshot": self.stored, "finished_at": 1.0}
        if module == "state_snapshot":
            return {"changed": True, "snapshot": {"planned": check_only}, "path": args["path"], "finished_at": 1.0}
        if module == "rollback_lock":
            return {"changed": True, "took_over_own": self.own_stale_lock, "finished_at": 1.0,
                    "invocation": {"module_args": {"admin_token": "never kept"}}}
        return {"changed": True, "changes": {"hybrid_routing": False}, "finished_at": 1.0, "flags": {"big": "doc"}}


@pytest.mark.parametrize("level, checks", [
    (1, ["feature_flags", "rollback_lock"]),
    (2, ["feature_flags", "routing_mode", "rollback_lock"]),
    (3, ["feature_flags", "routing_mode", "state_snapshot", "release", "rollback_lock"]),
])
def test_each_level_checks_the_modules_it_acts_with_then_takes_the_lock_and_the_snapshot(level, checks):
    service = Service()
    outcome = prepare(a_run(level), INPUTS, service)
    # Every check in check mode; then, nothing refused, the lock and the snapshot in the play's own mode.
    assert [(module, check_only) for module, _args, check_only in service.calls] == [
        *((module, True) for module in checks), ("rollback_lock", False), ("state_snapshot", False)]
    assert outcome["nothing_to_do"] is False and "failed" not in outcome
    lock_args = service.calls[-2][1]
    assert lock_args["holder"] == "alice" and lock_args["reason"].startswith(f"Level {level} rollback")
    assert outcome["snapshot"]["snapshot"] == {"planned": False}
    assert outcome["snapshot"]["path"] == INPUTS["snapshot_path"]
    # What later steps read is kept; the rest (documents, the invocation with its token) is not carried along.
    assert outcome["checks"]["flags"] == {"changed": True, "changes": {"hybrid_routing": False}, "finished_at": 1.0}
    assert "invocation" not in outcome["checks"]["lock"] and "invocation" not in outcome["lock"]


def test_level3_aims_its_release_check_from_the_snapshot_it_is_about_to_take():
    service = Service()
    prepare(a_run(3), dict(INPUTS, release_target="2024.12.01-1"), service)
    release = next(args for module, args, _check in service.calls if module == "release")
    assert release == {"direction": "back", "snapshot": {"planned": True}, "force": False, "wait_timeout": 420.0,
                       "target": "2024.12.01-1"}  # the planned snapshot (check mode), not the one taken after
    snapshot = next(args for module, args, _check in service.calls if module == "state_snapshot")
    assert snapshot["lambda_functions"] == []  # the admin API strategy snapshots no Lambda aliases


def test_level3_with_lambda_aliases_checks_the_versions_to_go_back_to():
    service = Service()
    prepare(a_run(3, strategy="aws_lambda_alias"), INPUTS, service)
    called = {module: args for module, args, _check in service.calls}
    assert "release" not in called
    assert called["lambda_alias"] == {"version": "previous", "snapshot": {"planned": True}, "alias": "live",
                                      "wait_timeout": 420.0, "functions": ["router"]}
    assert called["state_snapshot"]["lambda_functions"] == ["router"]


def test_a_roll_forward_reads_its_snapshot_for_real_then_checks_what_it_restores():
    service = Service(stored=STORED)
    outcome = prepare(a_run(3, "forward"), INPUTS, service)
    assert [(module, check_only) for module, _args, check_only in service.calls] == [
        ("state_snapshot", False), ("release", True), ("routing_mode", True), ("rollback_lock", True),
        ("rollback_lock", False)]  # and no snapshot: it restores one
    called = {module: args for module, args, _check in service.calls}
    assert called["routing_mode"] == {"mode": "hybrid", "wait_timeout": 120.0,
                                      "weights": {"direct": 70, "mcp": 30}}
    assert called["release"]["snapshot"] == STORED and "target" not in called["release"]
    assert outcome["checks"]["lambda"] == {"skipped": True}  # the snapshot recorded no aliases
    assert outcome["nothing_to_do"] is False and outcome["snapshot"] is None and outcome["lock"]["changed"]


@pytest.mark.parametrize("own_stale_lock", [False, True])
def test_a_roll_forward_with_nothing_stored_takes_only_its_own_stale_lock(own_stale_lock):
    service = Service(stored=None, own_stale_lock=own_stale_lock)
    outcome = prepare(a_run(3, "forward"), INPUTS, service)
    taken = [("rollback_lock", False)] if own_stale_lock else []
    assert [(module, check_only) for module, _args, check_only in service.calls] == [
        ("state_snapshot", False), ("rollback_lock", True), *taken]
    assert outcome["nothing_to_do"] is True
    # It takes only its own stale lock (a killed run's), to give it back.
    assert (outcome["lock"] is not None) is own_stale_lock


def test_the_first_refusal_ends_the_preflight_and_names_the_module_that_refused():
    service = Service(refuse="routing_mode")
    outcome = prepare(a_run(2), INPUTS, service)
    assert [module for module, _args, _check in service.calls] == ["feature_flags", "routing_mode"]
    assert outcome["failed"] is True
    # The module's message, and which module in check mode said it: nothing else is named beside the one input.
    assert outcome["msg"] == ("Preflight (routing_mode in check mode) refused the run before any write: "
                              "routing_mode says no")
    assert "lock" not in outcome["checks"] and outcome["lock"] is None and outcome["snapshot"] is None


class LockTakenMeanwhile(Service):
    """The lock is free when checked, taken by someone else when the run takes it."""

    def __call__(self, module: str, args: dict[str, Any], check_only: bool) -> dict[str, Any]:
        if module == "rollback_lock" and not check_only:
            self.calls.append((module, args, check_only))
            return {"failed": True, "changed": False, "msg": "The rollback lock is held by bob",
                    "lock": dict(BUSY, ttl_seconds=900, pid=4242)}  # as the service's 409 names it: no held
        return super().__call__(module, args, check_only)


LEASE = {"held": True, "holder": "bob", "reason": "Level 3 rollback rb-1", "rollback_id": "rb-1",
         "acquired_at": "2026-12-07T17:29:33Z", "controller": "awx-job-7"}
BUSY = {key: value for key, value in LEASE.items() if key != "held"}


def test_a_lock_taken_meanwhile_ends_the_run_before_any_write():
    service = LockTakenMeanwhile()
    outcome = prepare(a_run(2), INPUTS, service)
    assert outcome["failed"] is True and "held by bob" in outcome["msg"] and "nothing was written" in outcome["msg"]
    assert "state_snapshot" not in [module for module, _args, _check in service.calls]
    assert outcome["busy"] == BUSY, "the holder's lease, so that nobody is paged for this run"


class LockHeld(Service):
    """The lock's check finds it held by another run."""

    def __call__(self, module: str, args: dict[str, Any], check_only: bool) -> dict[str, Any]:
        if module == "rollback_lock":
            self.calls.append((module, args, check_only))
            return {"failed": True, "changed": False, "msg": "The rollback lock is held by bob", "lock": LEASE}
        return super().__call__(module, args, check_only)


def test_a_lock_held_by_another_run_refuses_and_names_its_holder():
    outcome = prepare(a_run(3), INPUTS, LockHeld())
    assert outcome["failed"] is True and outcome["busy"] == BUSY


def test_any_other_refusal_is_not_busy():
    assert "busy" not in prepare(a_run(2), INPUTS, Service(refuse="routing_mode"))
    assert "busy" not in prepare(a_run(1), INPUTS, Service(refuse="state_snapshot"))


def test_a_snapshot_that_fails_fails_the_step_with_the_lock_taken_so_that_the_report_gives_it_back():
    service = Service(refuse="state_snapshot")
    outcome = prepare(a_run(1), INPUTS, service)
    assert outcome["failed"] is True and outcome["msg"].startswith("The snapshot was not taken (state_snapshot)")
    assert outcome["lock"]["changed"] is True


def test_the_lock_is_checked_for_the_runs_operator():
    assert check_args("lock", a_run(1), dict(INPUTS, lock_takeover=True), {}) == {
        "holder": "alice", "takeover": True, "ttl_seconds": 900.0}
    with pytest.raises(ValueError, match="unknown preflight check"):
        check_args("dns", a_run(1), INPUTS, {})


@pytest.mark.parametrize("check, msg, named", [
    ("flags", "admin_token is not set: pass the option admin_token or export ADMIN_TOKEN.",
     ["hybrid_routing_admin_token"]),
    ("flags", "Unknown feature flag(s): hybrid_routnig", ["hybrid_routing_flags"]),  # the check's own input
    # Not the words of a URL (".../admin/feature-flags" names no option).
    ("flags", "TLS verification failed for https://api.example/admin/feature-flags: point ca_path at the CA bundle",
     ["hybrid_routing_ca_path"]),
    ("release", "Unknown release 2024.13.99-9 (option target)", ["hybrid_routing_release_target"]),
    ("routing", "wait_timeout must be >= 0", ["hybrid_routing_routing_wait_timeout_seconds"]),
    ("release", "wait_timeout must be >= 0", ["hybrid_routing_release_wait_timeout_seconds"]),
    ("lock", "The rollback lock is held by bob since 12:00 (investigating)", []),
])
def test_a_refusal_names_where_the_wrong_option_is_set(check, msg, named):
    from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._preflight import variables_named

    assert variables_named(check, msg) == named


def test_a_refusal_says_where_to_fix_it():
    class NoToken(Service):
        def __call__(self, module, args, check_only):
            self.calls.append((module, args, check_only))
            return {"failed": True, "changed": False, "msg": "admin_token is not set: pass the option admin_token."}

    outcome = prepare(a_run(1), INPUTS, NoToken())
    assert outcome["msg"].endswith("Set in the inventory as hybrid_routing_admin_token.")
