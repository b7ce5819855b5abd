"""Modules run in the Ansible worker (plugin_utils/_inprocess.py) behave as they do as classic modules."""

from __future__ import annotations

import json

import pytest

from ansible_collections.matbakh.hybrid_routing.plugins.modules import feature_flags, rollback_notify, service_info
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import run_in_process

TOKEN = "unit-token-XYZ"
CONNECTION = {"api_base": "http://127.0.0.1:9", "admin_token": TOKEN}


@pytest.fixture(autouse=True)
def _fake(fake_api):
    return fake_api


def run(module, args, check_mode=False, diff_mode=False):
    name = module.__name__.rsplit(".", 1)[-1]
    return run_in_process(module, args, check_mode, diff_mode, f"matbakh.hybrid_routing.{name}")


@pytest.mark.parametrize("check_mode", [False, True], ids=["real", "check"])
def test_same_result_as_the_module(fake_api, run_module, check_mode):
    args = dict(CONNECTION, flags={"hybrid_routing": False})
    in_process = run(feature_flags, args, check_mode=check_mode, diff_mode=True)
    writes = fake_api.instances[-1].writes
    assert writes == ([] if check_mode else [("set_flags", {"hybrid_routing": False})])
    code, classic = run_module(feature_flags, {"flags": {"hybrid_routing": False}, "_ansible_check_mode": check_mode,
                                               "_ansible_diff": True})
    assert code == 0
    for key in ("changed", "flags", "changes", "diff"):
        assert in_process[key] == classic[key], key


def test_no_log_values_are_scrubbed_from_the_result():
    result = run(feature_flags, dict(CONNECTION, flags={"hybrid_routing": False}))
    assert TOKEN not in json.dumps(result)
    assert result["invocation"]["module_args"]["flags"] == {"hybrid_routing": False}


def test_environment_fallbacks_apply(monkeypatch):
    monkeypatch.setenv("API_BASE", "http://127.0.0.1:9")
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    result = run(service_info, {"gather": ["flags"]})
    assert not result.get("failed"), result
    assert TOKEN not in json.dumps(result)


@pytest.mark.parametrize(
    "args, message",
    [({"flags": {"x": False}, "bogus": 1}, "Invalid arguments for matbakh.hybrid_routing.feature_flags: "
                                           "unsupported parameters bogus."),
     ({}, "missing required arguments: flags")],
    ids=["unknown-option", "missing-option"],
)
def test_bad_arguments_fail_with_the_module_name(args, message):
    result = run(feature_flags, dict(CONNECTION, **args))
    assert result["failed"] is True and message in result["msg"]
    assert TOKEN not in json.dumps(result)


def test_frame_failure_before_any_request(monkeypatch):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    result = run(feature_flags, {"api_base": "http://127.0.0.1:9", "flags": {"x": False}})
    assert result["failed"] is True and "admin_token is not set" in result["msg"]


def test_a_bug_fails_the_task_with_a_message(monkeypatch):
    def broken(_frame):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(feature_flags, "work", broken)
    result = run(feature_flags, dict(CONNECTION, flags={"x": False}))
    assert result["failed"] is True
    assert "failed unexpectedly: ZeroDivisionError: division by zero" in result["msg"]
    assert "Traceback" in result["exception"]


def test_webhook_url_never_in_the_result():
    secret = "http://127.0.0.1:9/services/T0/B0/SECRETpart"
    report = {"environment": "prod", "summary": "Level 1 rollback of prod: done.", "outcome": "success",
              "rollback_id": "rb-1"}
    result = run(rollback_notify, {"phase": "finish", "report": report, "slack_webhook_url": secret,
                                   "retries": 0, "timeout": 1, "budget": 2})
    assert result["failed_channels"] == ["slack message"], result
    assert "SECRETpart" not in json.dumps(result)
