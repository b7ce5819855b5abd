"""Modules run in the Ansible worker (plugin_utils/_inprocess.py) behave as they do as classic modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.matbakh.hybrid_routing.plugins.callback.preload import AWS_SERVICES
from ansible_collections.matbakh.hybrid_routing.plugins.modules import feature_flags, rollback_notify, service_info
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._background import secret_values
from ansible_collections.matbakh.hybrid_routing.plugins.plugin_utils._inprocess import module_of, run_in_process

COLLECTION_ROOT = Path(__file__).resolve().parents[4]

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


def test_warnings_are_returned_with_the_result_not_displayed(monkeypatch):
    def warns(frame):
        frame.warn(f"token {TOKEN} would leak")
        return {"changed": False}

    monkeypatch.setattr(feature_flags, "work", warns)
    result = run(feature_flags, dict(CONNECTION, flags={"x": False}))
    assert result["warnings"] == ["token ******** would leak"]


def test_secret_values_follow_the_spec():
    spec = {"token": {"type": "str", "no_log": True},
            "receivers": {"type": "dict", "options": {"key": {"type": "str", "no_log": True},
                                                      "name": {"type": "str"}}},
            "hooks": {"type": "list", "elements": "dict", "options": {"url": {"type": "raw", "no_log": True}}},
            "plain": {"type": "str"}}
    params = {"token": "t0", "receivers": {"key": "k1", "name": "visible"}, "plain": "p",
              "hooks": [{"url": {"a": ["u1", 7, True]}}, {"url": None}]}
    assert secret_values(spec, params) == {"t0", "k1", "u1", "7"}
    assert secret_values(spec, "not a mapping") == set()


def test_every_module_has_an_action_plugin_or_is_routed_to_the_shared_one():
    """No module runs as a classic module on the controller by mistake, and a new one costs one routing line."""
    runtime = yaml.safe_load((COLLECTION_ROOT / "meta" / "runtime.yml").read_text())
    routed = {name for name, route in runtime["plugin_routing"]["modules"].items() if "action_plugin" in route}
    own = {path.stem for path in (COLLECTION_ROOT / "plugins" / "action").glob("*.py")}
    modules = {path.stem for path in (COLLECTION_ROOT / "plugins" / "modules").glob("*.py")} - {"__init__"}
    assert not routed & own, "a module with its own action plugin is routed as well"
    assert modules == routed | own
    assert {route["action_plugin"] for route in runtime["plugin_routing"]["modules"].values()
            if "action_plugin" in route} == {"matbakh.hybrid_routing.feature_flags"}
    assert module_of("matbakh.hybrid_routing.lambda_alias").__name__.endswith(".plugins.modules.lambda_alias")
    with pytest.raises(ValueError, match="only its own modules run in-process"):
        module_of("amazon.aws.s3_object")


def test_the_preload_callback_names_modules_that_exist():
    for action in AWS_SERVICES:
        assert module_of(action).ARGUMENT_SPEC is not None


def test_the_preload_callback_warms_the_service_of_an_aws_task(monkeypatch):
    from ansible_collections.matbakh.hybrid_routing.plugins.callback import preload as callback
    from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _aws

    warmed = []
    monkeypatch.setattr(callback, "preload", lambda *services: warmed.append(services))
    plugin = callback.CallbackModule()
    for action in ("ansible.builtin.debug", "matbakh.hybrid_routing.feature_flags",
                   "matbakh.hybrid_routing.triggers_info", "matbakh.hybrid_routing.auto_rollback_guard"):
        plugin.v2_playbook_on_task_start(type("Task", (), {"action": action, "collections": []})(), False)
    assert warmed == [("cloudwatch",), ("dynamodb",)]
    assert _aws.preload.__doc__ and "preload callback" in _aws.preload.__doc__
