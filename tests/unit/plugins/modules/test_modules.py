"""Module behaviour with the transport replaced by FakeAdminAPI: changes, check mode, diff, bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import UnreachableError
from ansible_collections.matbakh.hybrid_routing.plugins.modules import (
    feature_flags,
    rollback_lock,
    service_health,
    service_info,
    slack_notify,
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


def test_health_fails_after_deadline(run_module):
    def prepare(api):
        api.health_script = [{"status": "degraded", "checks": {"routing": {"status": "degraded"}}}] * 1000

    code, result = run_module(service_health, {"wait_timeout": 0.2, "interval": 0.05}, prepare)
    assert code == 1
    assert "did not become healthy within 0.2s: last status degraded (routing)" in result["msg"]
    assert len(result["samples"]) >= 3


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


# -- rollback_lock ---------------------------------------------------------------------------------------------

def held_by_bob(api):
    api.state["lock"] = {"held": True, "holder": "bob", "reason": "drill", "acquired_at": "T0", "expires_at": "T1"}


def test_lock_held_by_other_fails_with_who_why_since(fake_api, run_module):
    code, result = run_module(rollback_lock, {"holder": "alice"}, held_by_bob)
    assert code == 1
    assert "held by bob since T0 (reason: drill)" in result["msg"]
    assert "hybrid_routing_lock_takeover" in result["msg"]
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


def test_unlock_is_idempotent(fake_api, run_module):
    code, result = run_module(rollback_lock, {"holder": "alice", "state": "absent"})
    assert code == 0 and result["changed"] is False


# -- state_snapshot --------------------------------------------------------------------------------------------

def test_snapshot_writes_private_file_then_keeps_it(tmp_path, fake_api, run_module):
    path = tmp_path / "prod" / "snapshot.json"
    args = {"path": str(path), "environment": "prod", "rollback_id": "rb-1"}
    code, result = run_module(state_snapshot, args)
    assert code == 0 and result["changed"] is True and result["kept"] is False
    saved = json.loads(path.read_text())
    assert saved["flags"]["hybrid_routing"] is True and saved["release"] == {"current": "r3", "previous": "r2"}
    assert saved["rollback_id"] == "rb-1"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert TOKEN not in path.read_text()

    def rolled_back(api):
        api.state["flags"]["hybrid_routing"] = False

    code, again = run_module(state_snapshot, args, rolled_back)
    assert code == 0 and again["changed"] is False and again["kept"] is True
    assert json.loads(path.read_text())["flags"]["hybrid_routing"] is True


def test_snapshot_check_mode_writes_no_file(tmp_path, run_module):
    path = tmp_path / "snapshot.json"
    code, result = run_module(
        state_snapshot, {"path": str(path), "environment": "prod", "_ansible_check_mode": True, "_ansible_diff": True}
    )
    assert code == 0 and result["changed"] is True and not path.exists()
    assert '"hybrid_routing": true' in result["diff"]["after"]


def test_snapshot_of_another_environment_is_refused(tmp_path, run_module):
    path = tmp_path / "snapshot.json"
    run_module(state_snapshot, {"path": str(path), "environment": "staging"})
    code, result = run_module(state_snapshot, {"path": str(path), "environment": "prod"})
    assert code == 1 and "belongs to environment 'staging'" in result["msg"]


def test_corrupt_snapshot_is_not_overwritten(tmp_path, run_module):
    path = tmp_path / "snapshot.json"
    path.write_text("{not json")
    code, result = run_module(state_snapshot, {"path": str(path), "environment": "prod"})
    assert code == 1 and "not valid JSON" in result["msg"] and "force=true" in result["msg"]
    assert path.read_text() == "{not json"


# -- slack_notify ----------------------------------------------------------------------------------------------

def test_slack_check_mode_sends_nothing(run_module):
    code, result = run_module(
        slack_notify,
        {"webhook_url": "https://hooks.example/services/SECRET", "text": "hi", "_ansible_check_mode": True},
        connection=False,
    )
    assert code == 0 and result["sent"] is False and result["payload"] == {"text": "hi"}
    assert "SECRET" not in json.dumps(result)


def test_slack_bad_url_is_clear_and_secret_free(run_module):
    code, result = run_module(slack_notify, {"webhook_url": "hooks/SECRET", "text": "hi"}, connection=False)
    assert code == 1 and "webhook_url is not a valid" in result["msg"]
    assert "SECRET" not in json.dumps(result)


def test_snapshot_force_sets_the_old_one_aside(tmp_path, run_module):
    path = tmp_path / "snapshot.json"
    run_module(state_snapshot, {"path": str(path), "environment": "prod", "rollback_id": "rb-old"})
    code, result = run_module(state_snapshot, {"path": str(path), "environment": "prod", "force": True,
                                               "rollback_id": "rb-new"})
    assert code == 0 and result["changed"] is True and result["superseded"].endswith("-superseded.json")
    assert json.loads(path.read_text())["rollback_id"] == "rb-new"
    assert json.loads(Path(result["superseded"]).read_text())["rollback_id"] == "rb-old"


def test_snapshot_older_than_max_age_is_replaced(tmp_path, run_module):
    path = tmp_path / "snapshot.json"
    run_module(state_snapshot, {"path": str(path), "environment": "prod"})
    old = json.loads(path.read_text())
    path.write_text(json.dumps(dict(old, taken_at="2020-01-01T00:00:00Z")))
    code, kept = run_module(state_snapshot, {"path": str(path), "environment": "prod", "max_age_seconds": 0})
    assert code == 0 and kept["kept"] is True
    code, fresh = run_module(state_snapshot, {"path": str(path), "environment": "prod", "max_age_seconds": 3600})
    assert code == 0 and fresh["kept"] is False and fresh["superseded"]
    assert json.loads(path.read_text())["taken_at"] != "2020-01-01T00:00:00Z"


def test_snapshot_archive_moves_the_file(tmp_path, run_module):
    path = tmp_path / "snapshot.json"
    run_module(state_snapshot, {"path": str(path), "environment": "prod"})
    code, result = run_module(state_snapshot, {"path": str(path), "environment": "prod", "state": "archived",
                                               "_ansible_check_mode": True})
    assert code == 0 and result["changed"] is True and path.exists()
    code, result = run_module(state_snapshot, {"path": str(path), "environment": "prod", "state": "archived"})
    assert code == 0 and not path.exists() and result["path"].endswith("-restored.json")
    code, again = run_module(state_snapshot, {"path": str(path), "environment": "prod", "state": "archived"})
    assert code == 0 and again["changed"] is False
