"""Module behaviour with the transport replaced by FakeAdminAPI: changes, check mode, diff, bad input."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
from pathlib import Path

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import ServerError, UnreachableError
from ansible_collections.matbakh.hybrid_routing.plugins.modules import (
    feature_flags,
    rollback_lock,
    service_health,
    service_info,
    state_snapshot,
)

TOKEN = "unit-token-XYZ"  # the token conftest.CONNECTION passes

pytestmark = pytest.mark.usefixtures("fake_api")


def last_api(fake_api):
    return fake_api.instances[-1]


# -- feature_flags ----------------------------------------------------------------------------------------------

def test_flags_disable_changes_only_what_differs(fake_api, run_module):
    def prepare(api):
        api.state["flags"]["direct_bedrock"] = False

    code, result = run_module(
        feature_flags, {"flags": {"hybrid_routing": False, "direct_bedrock": False}, "_ansible_diff": True}, prepare
    )
    assert code == 0 and result["changed"] is True
    assert last_api(fake_api).writes == [("set_flags", {"hybrid_routing": False})]
    assert result["changes"] == {"hybrid_routing": {"before": True, "after": False}}
    assert result["flags"]["hybrid_routing"] is False and result["flags"]["pii_redaction"] is True
    assert result["diff"] == {
        "before": {"direct_bedrock": False, "hybrid_routing": True},
        "after": {"direct_bedrock": False, "hybrid_routing": False},
    }


def test_flags_already_in_state_is_ok(fake_api, run_module):
    def prepare(api):
        api.state["flags"]["hybrid_routing"] = False

    code, result = run_module(feature_flags, {"flags": {"hybrid_routing": "no"}}, prepare)
    assert code == 0 and result["changed"] is False
    assert last_api(fake_api).writes == []


def test_flags_check_mode_writes_nothing_but_predicts(fake_api, run_module):
    code, result = run_module(feature_flags, {"flags": {"hybrid_routing": False}, "_ansible_check_mode": True})
    assert code == 0 and result["changed"] is True
    assert result["flags"]["hybrid_routing"] is False
    assert last_api(fake_api).writes == []


def test_unknown_flag_fails_before_any_write(fake_api, run_module):
    code, result = run_module(feature_flags, {"flags": {"hybrid_routing": False, "hybrid_routnig": False}})
    assert code == 1
    assert "Unknown feature flag(s): hybrid_routnig" in result["msg"]
    assert "direct_bedrock" in result["msg"]
    assert last_api(fake_api).writes == []


def test_flags_only_sets_the_named_ones(fake_api, run_module):
    """The roll-forward restores only the flags the rollback turned off, out of those its snapshot recorded."""
    def prepare(api):
        api.state["flags"].update(hybrid_routing=False, pii_redaction=False)

    recorded = {"hybrid_routing": True, "pii_redaction": True}
    code, result = run_module(feature_flags, {"flags": recorded, "only": ["hybrid_routing", "direct_bedrock"]},
                              prepare)
    assert code == 0 and result["changes"] == {"hybrid_routing": {"before": False, "after": True}}
    assert last_api(fake_api).writes == [("set_flags", {"hybrid_routing": True})]
    code, result = run_module(feature_flags, {"flags": recorded, "only": []}, prepare)
    assert code == 0 and set(result["changes"]) == {"hybrid_routing", "pii_redaction"}
    code, result = run_module(feature_flags, {"flags": recorded, "only": ["direct_bedrock"]}, prepare)
    assert code == 1 and "(of those in only)" in result["msg"]


def test_non_boolean_flag_value_is_rejected(run_module):
    code, result = run_module(feature_flags, {"flags": {"hybrid_routing": "maybe"}})
    assert code == 1 and "not a boolean: hybrid_routing" in result["msg"]


@pytest.mark.parametrize(
    "override, message",
    [({"api_base": "api.matbakh.app"}, "not a valid URL"), ({"admin_token": ""}, "admin_token is not set"),
     ({"timeout": 0}, "timeout must be a positive")],
)
def test_bad_connection_input_fails_clearly(run_module, monkeypatch, override, message):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    code, result = run_module(feature_flags, dict({"flags": {"hybrid_routing": False}}, **override))
    assert code == 1 and message in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_token_never_in_result(run_module):
    _code, result = run_module(feature_flags, {"flags": {"hybrid_routing": False}})
    assert TOKEN not in json.dumps(result)


# -- service_health --------------------------------------------------------------------------------------------

def test_health_waits_until_healthy_and_returns_samples(run_module):
    def prepare(api):
        api.health_script = [
            {"status": "unhealthy", "checks": {"incident": {"status": "unhealthy"}}},
            UnreachableError("refused"),
            {"status": "healthy", "checks": {}},
        ]

    code, result = run_module(service_health, {"wait_timeout": 5, "interval": 0.01}, prepare)
    assert code == 0 and result["status"] == "healthy" and result["changed"] is False
    assert [s["status"] for s in result["samples"]] == ["unhealthy", "unreachable", "healthy"]
    assert result["samples"][0]["failing"] == ["incident"]


def test_health_asks_the_service_to_hold_each_poll_until_the_wanted_status(run_module):
    """Issue 21: each poll asks the service to hold its answer until a wanted status, for at most hold_seconds and
    two seconds less than the poll may wait; a short wait asks for no hold."""
    apis = []

    def prepare(api):
        apis.append(api)
        api.health_script = [{"status": "unhealthy", "checks": {}}, {"status": "healthy", "checks": {}}]

    code, _result = run_module(service_health, {"wait_timeout": 60, "interval": 0.01, "wait_for": ["healthy",
                                                                                                   "degraded"]},
                               prepare)
    assert code == 0
    (hold_for, first), (_again, second) = apis[0].holds
    assert hold_for == ["degraded", "healthy"] and first == 20.0 and 0 < second <= 20.0
    code, _result = run_module(service_health, {"wait_timeout": 2.5, "interval": 0.01}, prepare)
    assert code == 0 and apis[1].holds[0] == (None, 0.0)  # 2.5 s minus the 2 s margin: not worth a hold
    code, _result = run_module(service_health, {"wait_timeout": 60, "interval": 0.01, "hold_seconds": 0}, prepare)
    assert code == 0 and apis[2].holds[0] == (None, 0.0)


def test_health_fails_after_deadline(run_module):
    def prepare(api):
        api.health_script = [{"status": "degraded", "checks": {"routing": {"status": "degraded"}}}] * 1000

    code, result = run_module(service_health, {"wait_timeout": 0.2, "interval": 0.05}, prepare)
    assert code == 1
    assert "did not become healthy within 0.2s: last status degraded (routing)" in result["msg"]
    assert len(result["samples"]) >= 3


def test_health_waits_until_the_deadline_and_at_least_wait_timeout(run_module):
    """The levels pass their run's deadline: the wait is what is left of it, never less than wait_timeout."""
    import time

    def prepare(api):
        api.health_script = [{"status": "degraded", "checks": {}}] * 1000

    started = time.monotonic()
    code, result = run_module(service_health, {"wait_timeout": 0.1, "interval": 0.05,
                                               "deadline": time.time() + 0.6}, prepare)
    assert code == 1 and re.search(r"within 0\.[56]\d*s", result["msg"]), result["msg"]
    assert time.monotonic() - started >= 0.5
    code, result = run_module(service_health, {"wait_timeout": 0.2, "interval": 0.05,
                                               "deadline": time.time() - 100}, prepare)
    assert code == 1 and "within 0.2s" in result["msg"]


def test_health_polls_wait_for_what_is_left_of_the_budget(fake_api, run_module):
    """Issue 10: no fixed per-poll cap; the first poll may wait (almost) the whole budget for its answer."""
    def prepare(api):
        api.health_script = [{"status": "unhealthy", "checks": {}}] * 3

    code, result = run_module(service_health, {"wait_timeout": 30, "interval": 0.01, "timeout": 2}, prepare)
    assert code == 0 and result["wait"]["polls"] == 4
    waits = fake_api.instances[-1].waits
    assert waits[0] > 29 and all(w > 28 for w in waits), waits


@pytest.mark.parametrize(
    "script, expected",
    [([{"status": "unhealthy", "checks": {}}], "all answered, the last after"),
     ([UnreachableError("the admin API did not answer within 0.2s.")],
      "none answered; {n} got no answer (last: the admin API did not answer within 0.2s.)"),
     ([ServerError("GET /health answered 503", status=503)], "all answered")],
    ids=["slow-or-unhealthy", "down", "erroring"],
)
def test_health_deadline_says_slow_or_down(run_module, script, expected):
    def prepare(api):
        api.health_script = script * 1000

    code, result = run_module(service_health, {"wait_timeout": 0.2, "interval": 0.05}, prepare)
    assert code == 1
    wait = result["wait"]
    assert wait["polls"] == wait["answered"] + wait["unanswered"] >= 3
    assert expected.format(n=wait["unanswered"]) in result["msg"], result["msg"]
    assert result["samples"][-1]["status"] in ("unhealthy", "unreachable", "error")


def test_health_check_mode_takes_one_sample_and_does_not_fail(run_module):
    def prepare(api):
        api.health_script = [{"status": "unhealthy", "checks": {}}] * 5

    code, result = run_module(service_health, {"_ansible_check_mode": True}, prepare)
    assert code == 0 and len(result["samples"]) == 1 and result["status"] == "unhealthy"


# -- service_info ----------------------------------------------------------------------------------------------

def test_info_gathers_requested_parts(run_module):
    code, result = run_module(service_info, {"gather": ["flags", "releases"]})
    assert code == 0 and set(result) >= {"flags", "releases"} and "lock" not in result
    assert "history" not in result["releases"]


def test_info_require_flags_names_the_unknown(run_module):
    code, result = run_module(service_info, {"gather": ["health"], "require_flags": ["nope"]})
    assert code == 1 and result["unknown"] == ["nope"]


def test_info_names_what_is_not_as_in_the_baseline(run_module):
    code, before = run_module(service_info, {"gather": ["flags", "routing", "releases"]})
    code, same = run_module(service_info, {"gather": ["flags", "routing", "releases"], "baseline": before})
    assert code == 0 and same["differences"] == []

    def drilled(api):
        api.state["flags"]["hybrid_routing"] = False
        api.state["routing"]["mode"] = "mcp_only"

    code, after = run_module(service_info, {"gather": ["flags", "routing", "releases"], "baseline": before}, drilled)
    assert code == 0, "the caller decides"
    assert after["differences"] == ["flag hybrid_routing is false, was true",
                                    f"routing mode is mcp_only, was {before['routing']['mode']}"]
    assert service_info.differences({"releases": {"current": "r2"}}, {"releases": {"current": "r1"}}) == [
        "release is r1, was r2"]


# -- rollback_lock ---------------------------------------------------------------------------------------------

def held_by_bob(api):
    api.state["lock"] = {"held": True, "holder": "bob", "reason": "drill", "acquired_at": "T0", "expires_at": "T1"}


def test_lock_held_by_other_fails_with_who_why_since(fake_api, run_module):
    code, result = run_module(rollback_lock, {"holder": "alice"}, held_by_bob)
    assert code == 1
    assert "held by bob since T0 (reason: drill)" in result["msg"]
    assert "takeover=true" in result["msg"]
    assert last_api(fake_api).writes == []


def test_lock_takeover_is_reported(fake_api, run_module):
    code, result = run_module(rollback_lock, {"holder": "alice", "takeover": True}, held_by_bob)
    assert code == 0 and result["taken_over"] is True and result["lock"]["holder"] == "alice"
    assert result["previous"]["holder"] == "bob"


def test_lock_check_mode_writes_nothing(fake_api, run_module):
    code, result = run_module(rollback_lock, {"holder": "alice", "_ansible_check_mode": True, "_ansible_diff": True})
    assert code == 0 and result["changed"] is True and result["diff"]["before"] == {"held": False}
    assert last_api(fake_api).writes == []


def test_unlock_leaves_someone_elses_lock(fake_api, run_module):
    code, result = run_module(rollback_lock, {"holder": "alice", "state": "absent"}, held_by_bob)
    assert code == 0 and result["changed"] is False and "Left the lock alone" in result["msg"]
    assert last_api(fake_api).writes == []


def _own_lease(controller: str, pid: int):
    def prepare(api):
        api.state["lock"] = {"held": True, "holder": "alice", "reason": "Level 2", "acquired_at": "T0",
                             "expires_at": "T1", "controller": controller, "pid": pid}
    return prepare


def test_lock_of_the_same_holder_whose_run_still_runs_here_is_refused(fake_api, run_module, monkeypatch):
    monkeypatch.setattr(rollback_lock, "process_command", lambda pid: "python ansible-playbook level2.yml")
    monkeypatch.setattr(rollback_lock, "playbook_pid", lambda: 999_001)
    code, result = run_module(rollback_lock, {"holder": "alice"}, _own_lease(socket.gethostname(), 999_002))
    assert code == 1 and "another run of yours that is still going" in result["msg"]
    assert f"run on {socket.gethostname()} as pid 999002" in result["msg"]
    assert last_api(fake_api).writes == []


@pytest.mark.parametrize(
    "controller, command",
    [("another-host", "python ansible-playbook level2.yml"), (None, "")],
    ids=["other-controller", "process-gone"],
)
def test_lock_of_the_same_holder_whose_run_is_gone_is_taken_over(fake_api, run_module, monkeypatch, controller,
                                                                 command):
    monkeypatch.setattr(rollback_lock, "process_command", lambda pid: command)
    code, result = run_module(rollback_lock, {"holder": "alice"}, _own_lease(controller or socket.gethostname(), 42))
    assert code == 0 and result["took_over_own"] is True
    assert last_api(fake_api).writes == [("acquire_lock", "alice")]
    lease = last_api(fake_api).state["lock"]
    assert lease["controller"] == socket.gethostname() and "pid" in lease


def test_a_gone_run_of_the_same_holder_is_replaced_only_if_still_there(fake_api, run_module, monkeypatch):
    monkeypatch.setattr(rollback_lock, "process_command", lambda pid: "")

    def stale_then_taken(api):
        api.state["lock"] = {"held": True, "holder": "alice", "rollback_id": "rb-gone", "controller": "x", "pid": 7}
        # Meanwhile another run of alice took the stale lease over (its process runs here).
        api.state["lock_after_read"] = {"held": True, "holder": "alice", "rollback_id": "rb-other",
                                        "controller": socket.gethostname(), "pid": 8}
    code, result = run_module(rollback_lock, {"holder": "alice"}, stale_then_taken)
    assert last_api(fake_api).acquired_with == {"takeover": True, "replaces": "rb-gone"}
    assert code == 1 and "another run of yours that is still going" in result["msg"]
    assert "rollback rb-other" in result["msg"]


def test_a_lease_taken_between_read_and_write_refuses_the_second_run(fake_api, run_module):
    """Two runs that both read the lease free: the service refuses the second write, and the module says who won."""
    def free_then_taken(api):
        api.state["lock_after_read"] = {"held": True, "holder": "bob", "rollback_id": "rb-bob", "reason": "Level 2"}
    code, result = run_module(rollback_lock, {"holder": "alice"}, free_then_taken)
    assert last_api(fake_api).acquired_with == {"takeover": False, "replaces": None}
    assert code == 1 and "held by bob" in result["msg"] and last_api(fake_api).writes == []


def test_playbook_pid_is_found_through_the_process_tree(monkeypatch):
    tree = {100: (50, "python /venv/bin/ansible-playbook site.yml"), 50: (10, "bash"), 10: (1, "sshd")}
    monkeypatch.setattr(rollback_lock.os, "getppid", lambda: 100)
    monkeypatch.setattr(rollback_lock, "process_command", lambda pid: tree.get(pid, (0, ""))[1])
    monkeypatch.setattr(rollback_lock, "parent_pid", lambda pid: tree.get(pid, (0, ""))[0])
    assert rollback_lock.playbook_pid() == 100


def test_process_command_of_this_process():
    assert "python" in rollback_lock.process_command(os.getpid()).lower()
    assert rollback_lock.process_command(2**22 + 12345) == ""


def test_unlock_is_idempotent(fake_api, run_module):
    code, result = run_module(rollback_lock, {"holder": "alice", "state": "absent"})
    assert code == 0 and result["changed"] is False


# -- state_snapshot --------------------------------------------------------------------------------------------

def snap_args(tmp_path, **extra):
    return dict({"path": str(tmp_path / "prod" / "snapshot.json"), "environment": "prod", "rollback_id": "rb-1"},
                **extra)


def test_snapshot_stored_in_the_service_with_a_private_local_copy_then_kept(tmp_path, fake_api, run_module):
    code, result = run_module(state_snapshot, snap_args(tmp_path))
    assert code == 0 and result["changed"] is True and result["kept"] is False
    stored = fake_api.stored["snapshot"]
    assert stored["flags"]["hybrid_routing"] is True and stored["release"] == {"current": "r3", "previous": "r2"}
    assert stored["rollback_id"] == "rb-1" and stored["api_base"] == "http://127.0.0.1:9"
    local = tmp_path / "prod" / "snapshot.json"
    assert json.loads(local.read_text()) == stored
    assert stat.S_IMODE(os.stat(local).st_mode) == 0o600
    assert TOKEN not in local.read_text()

    local.unlink()  # another controller: no local copy, same service

    def rolled_back(api):
        api.state["flags"]["hybrid_routing"] = False

    code, again = run_module(state_snapshot, snap_args(tmp_path, rollback_id="rb-2"), rolled_back)
    assert code == 0 and again["changed"] is False and again["kept"] is True
    assert fake_api.stored["snapshot"]["flags"]["hybrid_routing"] is True
    assert json.loads(local.read_text())["rollback_id"] == "rb-1"


def test_snapshot_check_mode_stores_nothing(tmp_path, fake_api, run_module):
    code, result = run_module(state_snapshot, snap_args(tmp_path, _ansible_check_mode=True, _ansible_diff=True))
    assert code == 0 and result["changed"] is True and fake_api.stored is None
    assert not (tmp_path / "prod").exists()
    assert '"hybrid_routing": true' in result["diff"]["after"]


def test_snapshot_of_another_environment_is_refused(tmp_path, fake_api, run_module):
    run_module(state_snapshot, snap_args(tmp_path, environment="staging"))
    for state in ("present", "read", "archived"):
        code, result = run_module(state_snapshot, snap_args(tmp_path, state=state))
        assert code == 1 and "taken for environment 'staging'" in result["msg"]
    assert fake_api.stored["snapshot"]["environment"] == "staging"


def test_lost_create_race_keeps_the_winner(tmp_path, fake_api, run_module):
    def someone_was_faster(api):
        original = api.snapshot
        calls = []

        def snapshot():
            calls.append(1)
            if len(calls) == 1:
                return None
            return original()

        api.snapshot = snapshot
        winner = dict(api.seed(), environment="prod", schema_version=1, api_base="http://127.0.0.1:9",
                      rollback_id="rb-winner", release={"current": "r3", "previous": "r2"})
        type(api).stored = {"snapshot": winner, "stored_at": "T"}

    code, result = run_module(state_snapshot, snap_args(tmp_path), someone_was_faster)
    assert code == 0 and result["changed"] is False and result["snapshot"]["rollback_id"] == "rb-winner"


def test_snapshot_force_sets_the_old_one_aside(tmp_path, fake_api, run_module):
    run_module(state_snapshot, snap_args(tmp_path, rollback_id="rb-old"))
    code, result = run_module(state_snapshot, snap_args(tmp_path, force=True, rollback_id="rb-new"))
    assert code == 0 and result["changed"] is True and result["superseded"].endswith("-superseded.json")
    assert fake_api.stored["snapshot"]["rollback_id"] == "rb-new"
    assert json.loads(Path(result["superseded"]).read_text())["rollback_id"] == "rb-old"


def test_snapshot_older_than_max_age_is_replaced(tmp_path, fake_api, run_module):
    run_module(state_snapshot, snap_args(tmp_path))
    fake_api.stored["snapshot"]["taken_at"] = "2020-01-01T00:00:00Z"
    code, kept = run_module(state_snapshot, snap_args(tmp_path, max_age_seconds=0))
    assert code == 0 and kept["kept"] is True
    code, fresh = run_module(state_snapshot, snap_args(tmp_path, max_age_seconds=3600))
    assert code == 0 and fresh["kept"] is False and fresh["superseded"]
    assert fake_api.stored["snapshot"]["taken_at"] != "2020-01-01T00:00:00Z"


def test_snapshot_read_and_archive(tmp_path, fake_api, run_module):
    code, none = run_module(state_snapshot, snap_args(tmp_path, state="read"))
    assert code == 0 and none["snapshot"] is None
    run_module(state_snapshot, snap_args(tmp_path))
    code, read = run_module(state_snapshot, snap_args(tmp_path, state="read"))
    assert code == 0 and read["snapshot"]["release"]["current"] == "r3" and read["changed"] is False
    code, dry = run_module(state_snapshot, snap_args(tmp_path, state="archived", _ansible_check_mode=True))
    assert code == 0 and dry["changed"] is True and fake_api.stored is not None
    code, done = run_module(state_snapshot, snap_args(tmp_path, state="archived"))
    assert code == 0 and fake_api.stored is None and done["path"].endswith("-restored.json")
    assert not (tmp_path / "prod" / "snapshot.json").exists()
    code, again = run_module(state_snapshot, snap_args(tmp_path, state="archived"))
    assert code == 0 and again["changed"] is False
