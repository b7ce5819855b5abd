"""Health verdicts and the fault knobs (in-process; the connection-level faults are in test_sandbox_process)."""

from __future__ import annotations

import time

import pytest

from sandbox_testlib import wait_for


def status(client):
    return client.get("/health").json()["status"]


def test_health_shape(client):
    body = client.get("/health").json()
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"api", "feature_flags", "routing", "release"}
    assert body["checks"]["api"] == {"status": "healthy"}
    assert body["checks"]["release"] == {"status": "healthy", "detail": "2025.01.14-2"}
    assert body["time"].endswith("Z")


def test_recover_after_seconds(make_client):
    client = make_client(recover_after_seconds=0.5)
    body = client.get("/health").json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["incident"]["status"] == "unhealthy"
    client.get("/admin/feature-flags")
    client.put("/admin/feature-flags/nope", json={"enabled": False})  # a failed write is no rollback action
    client.post("/admin/locks/rollback", json={"holder": "alice"})  # neither is the lock
    assert status(client) == "unhealthy"

    acted = time.monotonic()
    client.patch("/admin/feature-flags", json={"flags": {"hybrid_routing": False}})
    assert status(client) == "unhealthy"
    wait_for(lambda: status(client) == "healthy")
    assert time.monotonic() - acted >= 0.45
    assert client.get("/health").json()["checks"]["incident"]["status"] == "healthy"

    # Any later rollback action restarts the clock: here a routing change.
    client.put("/admin/routing", json={"mode": "mcp_only"})
    assert status(client) == "unhealthy"
    wait_for(lambda: status(client) == "healthy")


def test_release_rollback_counts_as_rollback_action(make_client):
    client = make_client(recover_after_seconds=0.2, deploy_seconds=0.1)
    client.post("/admin/releases/rollback", json={})
    wait_for(lambda: status(client) == "healthy")


def test_health_status_override_and_runtime_faults(client):
    client.patch("/_sandbox/faults", json={"health_status": "degraded"})
    body = client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["checks"]["override"]["status"] == "degraded"
    faults = client.get("/_sandbox/faults").json()
    assert faults["health_status"] == "degraded"
    assert faults["deploy_seconds"] == 0.5  # PATCH kept the other knobs
    client.put("/_sandbox/faults", json={})
    assert client.get("/_sandbox/faults").json()["deploy_seconds"] == 1.0  # PUT replaced everything
    assert status(client) == "healthy"


@pytest.mark.parametrize(
    "body",
    [
        {"health_status": "sick"},
        {"rules": [{"path": "admin"}]},
        {"rules": [{"path": "/admin", "error_rate": 2}]},
        {"unknown_knob": 1},
    ],
)
def test_fault_config_validation(client, body):
    assert client.put("/_sandbox/faults", json=body).status_code == 422


def test_injected_errors_with_retry_after_do_not_log_or_change_state(client):
    rule = {
        "path": "/admin/feature-flags",
        "method": "PATCH",
        "error_rate": 1.0,
        "error_status": 503,
        "retry_after": 2,
        "count": 2,
    }
    client.patch("/_sandbox/faults", json={"rules": [rule]})
    for _attempt in range(2):
        response = client.patch("/admin/feature-flags", json={"flags": {"hybrid_routing": False}})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "2"
        assert response.json()["error"] == "injected_fault"
    assert client.get("/admin/feature-flags").json()["flags"]["hybrid_routing"]["enabled"] is True  # GET: no match
    assert client.get("/_sandbox/changes").json()["changes"] == []
    assert client.get("/_sandbox/faults").json()["rules"] == []  # spent
    assert client.patch("/admin/feature-flags", json={"flags": {"hybrid_routing": False}}).status_code == 200
    assert len(client.get("/_sandbox/changes").json()["changes"]) == 1


def test_counted_rule_decrements_and_method_and_prefix_match(client):
    client.patch(
        "/_sandbox/faults",
        json={"rules": [{"path": "/admin/rel", "method": "get", "error_rate": 1, "error_status": 429, "count": 3}]},
    )
    assert client.get("/admin/releases").status_code == 429
    assert client.get("/_sandbox/faults").json()["rules"][0]["count"] == 2
    assert client.get("/admin/routing").status_code == 200  # other prefix
    assert client.post("/admin/releases/rollback", json={}).status_code == 202  # other method


def test_faults_never_apply_to_sandbox_endpoints(client):
    client.put("/_sandbox/faults", json={"rules": [{"path": "/", "error_rate": 1, "error_status": 500}]})
    assert client.get("/health").status_code == 500
    assert client.get("/_sandbox/changes").status_code == 200
    assert client.put("/_sandbox/faults", json={}).status_code == 200
    assert client.get("/health").status_code == 200


def test_latency(client):
    client.patch("/_sandbox/faults", json={"rules": [{"path": "/admin/routing", "latency_ms": 200, "count": 1}]})
    started = time.monotonic()
    assert client.get("/admin/routing").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_error_rate_is_random(make_client):
    client = make_client()
    client.patch("/_sandbox/faults", json={"rules": [{"path": "/health", "error_rate": 0.5}]})
    statuses = {client.get("/health").status_code for _request in range(60)}
    assert statuses == {200, 503}


def test_drop_needs_the_sandbox_server(client):
    from sandbox.faults import ConnectionDropUnsupported

    client.patch("/_sandbox/faults", json={"rules": [{"path": "/health", "drop": True}]})
    with pytest.raises(ConnectionDropUnsupported):
        client.get("/health")


def test_rule_for_seconds_lapses(client):
    client.put("/_sandbox/faults", json={"rules": [{"path": "/health", "error_rate": 1, "for_seconds": 0.3}]})
    assert client.get("/health").status_code == 503
    wait_for(lambda: client.get("/health").status_code == 200)
    assert client.get("/_sandbox/faults").json()["rules"] == []


def test_rule_clock_runs_from_when_it_was_set_and_survives_other_patches():
    from sandbox.faults import FaultConfig, FaultConfigPatch, FaultState

    now = [100.0]
    state = FaultState(FaultConfig.model_validate({"rules": [{"path": "/health", "drop": True, "for_seconds": 20}]}),
                       clock=lambda: now[0])
    now[0] = 110.0
    state.patch(FaultConfigPatch(health_status="degraded"))  # not a rules change: the 20 s keep running
    assert state.take_rule("GET", "/health") is not None
    now[0] = 120.0
    assert state.take_rule("GET", "/health") is None
    assert state.config.rules == [] and state.config.health_status == "degraded"

    state.patch(FaultConfigPatch.model_validate({"rules": [{"path": "/admin", "latency_ms": 5, "for_seconds": 5}]}))
    now[0] = 124.9
    assert state.take_rule("GET", "/admin/routing") is not None
    now[0] = 125.0
    assert state.take_rule("GET", "/admin/routing") is None
