"""Reliability 1: every level, roll-forward and auto_rollback under the faults of a bad day (issue 11).

Each run completes within its level's target, or fails with a message that says what happened and what to run
next, and then the next run (the fault gone) completes. The short mode (the test command) runs each fault once,
on a level chosen in turn; `bash scripts/reliability.sh --full` runs every fault on every level.
"""

from __future__ import annotations

import time

import pytest
from test_auto_rollback import guard_records

from hrtest import aws_vars, fast_rules
from reliability import (
    AUTO,
    LEVEL3,
    PLAYBOOKS,
    TARGETS,
    AwsFaultProxy,
    Case,
    injected,
    level_state_problems,
)

# The main write of each level: where a hang past the client timeout hurts (the write happens, the answer is lost).
MAIN_WRITE = {
    "level1": ("PATCH", "/admin/feature-flags"),
    "level2": ("PUT", "/admin/routing"),
    "level3": ("POST", "/admin/releases/rollback"),
    "rollforward": ("POST", "/admin/releases/rollback"),
    "auto": ("PATCH", "/admin/feature-flags"),
}
CLIENT_TIMEOUT = 10  # seconds: the admin API modules' default `timeout`


def sandbox_faults(fault: str, level: str) -> dict:
    method, path = MAIN_WRITE[level]
    return {
        "503_30pct": {"rules": [{"path": "/", "error_rate": 0.3, "error_status": 503}]},
        "latency_2s": {"rules": [{"path": "/", "latency_ms": 2000}]},
        "hang_after_write": {"rules": [{"path": path, "method": method, "timeout_seconds": CLIENT_TIMEOUT + 2,
                                        "count": 1}]},
        "dropped_connections": {"rules": [{"path": "/admin", "method": "GET", "drop": True, "count": 1},
                                          {"path": path, "method": method, "drop": True, "count": 1},
                                          {"path": "/admin/locks", "method": "DELETE", "drop": True, "count": 1}]},
        "api_down_20s": {"rules": [{"path": "/", "drop": True, "for_seconds": 20}]},
        "deploy_failing": {"deploy_fail": True},
    }.get(fault, {})


CLOUDWATCH = {"cloudwatch_throttling": "throttle", "cloudwatch_errors": "error"}
FAULTS = ["503_30pct", "latency_2s", "hang_after_write", "dropped_connections", "api_down_20s",
          "cloudwatch_throttling", "cloudwatch_errors", "deploy_failing"]
LEVELS = ["level1", "level2", "level3", "rollforward"]
# The deployment fails only where a deployment runs.
APPLIES = {"deploy_failing": ("level3", "rollforward")}


def cases() -> list:
    """Every (fault, level); the short mode keeps one level per fault, taken in turn, and one auto_rollback."""
    found = []
    for turn, fault in enumerate(FAULTS):
        levels = [level for level in LEVELS if level in APPLIES.get(fault, LEVELS)]
        for level in levels:
            short = level == levels[turn % len(levels)]
            found.append(pytest.param(fault, level, id=f"{fault}-{level}",
                                      marks=[pytest.mark.reliability] + ([] if short else [pytest.mark.full])))
    return found


@pytest.fixture(scope="module")
def aws_proxy(moto_server):
    proxy = AwsFaultProxy(moto_server.url)
    yield proxy
    proxy.stop()


def proxied_aws(proxy: AwsFaultProxy, moto) -> dict:
    return dict(aws_vars(moto), hybrid_routing_aws_endpoint_url=proxy.url)


def failure_explained(output: str) -> bool:
    """A failed run says what happened (the step and its error) and what to run next; or, when only the lock could
    not be given back after a rollback that was done, says so and that the next run takes it over."""
    text = " ".join(output.split())
    failed_step = "FAILED" in text and "Failed at" in text and "Next:" in text
    lock_left = "The lock could not be released" in text and "your next run takes it over at once" in text
    return failed_step or lock_left


@pytest.mark.parametrize("fault, level", cases())
def test_a_level_under_a_fault(runner, api, aws_proxy, moto_server, fault, level):
    case = Case("faults", f"{fault} / {level}", target=TARGETS[level])
    aws = proxied_aws(aws_proxy, moto_server)
    aws_proxy.clear()
    if level == "rollforward":
        prepared = runner.run(LEVEL3, inventory_vars=aws)
        assert prepared.rc == 0, prepared.output
        api.changes()  # the roll-forward is judged on its own
    api.set_faults(sandbox_faults(fault, level))
    base_injected = injected(api)
    if fault in CLOUDWATCH:
        aws_proxy.arm("PutMetricData", CLOUDWATCH[fault], 3)
    began = time.monotonic()
    run = runner.run(PLAYBOOKS[level], inventory_vars=aws, timeout=TARGETS[level] + 60)
    case.run(run.seconds, run.rc == 0)
    case.retries = injected(api) - base_injected + aws_proxy.injected
    aws_proxy.injected = 0
    api.set_faults({})  # the state is read through the API: without the fault
    if run.rc == 0:
        assert run.seconds < TARGETS[level], f"{run.seconds:.1f}s against the target {TARGETS[level]}s"
        assert level_state_problems(api, level) == [], run.output
        case.note = "completed in the first run"
    else:
        assert failure_explained(run.output), run.output
        # The next run, the fault gone (an outage that ends, a deployment system fixed), completes.
        if fault == "api_down_20s":
            time.sleep(max(0.0, 20 - (time.monotonic() - began)))
        api.set_faults({})
        aws_proxy.clear()
        rerun = runner.run(PLAYBOOKS[level], inventory_vars=aws)
        case.run(rerun.seconds, rerun.rc == 0)
        assert rerun.rc == 0, rerun.output
        assert level_state_problems(api, level) == [], rerun.output
        case.note = "failed with what happened and what to run next; the re-run completed"
    case.save()


def auto_cases() -> list:
    return [pytest.param(fault, id=f"{fault}-auto",
                         marks=[pytest.mark.reliability] + ([] if fault == "503_30pct" else [pytest.mark.full]))
            for fault in FAULTS if fault != "deploy_failing"]


@pytest.mark.parametrize("fault", auto_cases())
def test_auto_rollback_under_a_fault(runner, monitored, aws_proxy, moto_server, fault):
    """A flag incident breaching the metrics: evaluate (GetMetricData through the proxy), Level 1, verify with
    the metrics; under the fault it recovers, or fails saying so, and the next run completes."""
    case = Case("faults", f"{fault} / auto_rollback", target=TARGETS["auto"])
    runner.sandbox = monitored
    aws_proxy.clear()
    monitored.set_faults({"incident": {"kind": "flag", "history_seconds": 150}})
    time.sleep(1.5)  # the publisher's next tick writes the incident's history
    auto = dict(proxied_aws(aws_proxy, moto_server), hybrid_routing_api_base=monitored.base,
                hybrid_routing_environment=monitored.environment, hybrid_routing_trigger_rules=fast_rules(),
                hybrid_routing_auto_recovery_interval_seconds=2)
    # PATCH: the incident goes on under the fault (a PUT would replace it).
    monitored.patch_faults({"rules": sandbox_faults(fault, "auto").get("rules", []) if fault not in CLOUDWATCH
                            else []})
    if fault in CLOUDWATCH:
        aws_proxy.arm("GetMetricData", CLOUDWATCH[fault], 2)
        aws_proxy.arm("PutMetricData", CLOUDWATCH[fault], 2)
    began = time.monotonic()
    env = {"ADMIN_TOKEN": monitored.token}
    run = runner.run(AUTO, inventory_vars=auto, env=env, timeout=TARGETS["auto"] + 60)
    case.run(run.seconds, run.rc == 0)
    case.retries = injected(monitored) + aws_proxy.injected
    aws_proxy.injected = 0
    monitored.patch_faults({"rules": []})  # the state is read through the API: without the fault
    if run.rc == 0:
        assert run.seconds < TARGETS["auto"], run.seconds
        case.note = "recovered in the first run"
    else:
        text = " ".join(run.output.split())
        assert "Next:" in text, run.output
        # Nothing was changed, so the circuit breaker's slot was given back: the next run may act at once.
        assert guard_records(moto_server, monitored.environment) == [], "a failed attempt holds the breaker"
        if fault == "api_down_20s":
            time.sleep(max(0.0, 20 - (time.monotonic() - began)))
        aws_proxy.clear()
        rerun = runner.run(AUTO, inventory_vars=auto, env=env)
        case.run(rerun.seconds, rerun.rc == 0)
        assert rerun.rc == 0, rerun.output
        assert len(guard_records(moto_server, monitored.environment)) == 1
        case.note = ("failed with what happened and what to run next, its circuit-breaker slot given back; the "
                     "re-run recovered")
    assert not monitored.flags()["hybrid_routing"], "the incident's flag is off"
    case.save()
