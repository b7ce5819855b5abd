"""Routing: validation, implied weights and convergence of `effective`."""

from __future__ import annotations

import pytest

from sandbox_testlib import wait_for


def test_seed_routing(client):
    doc = client.get("/admin/routing").json()
    assert doc["mode"] == "hybrid"
    assert doc["weights"] == {"direct": 70, "mcp": 30}
    assert doc["effective"] == {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}}


@pytest.mark.parametrize(
    ("mode", "weights"), [("mcp_only", {"direct": 0, "mcp": 100}), ("direct_only", {"direct": 100, "mcp": 0})]
)
def test_fixed_modes_imply_weights(client, mode, weights):
    response = client.put("/admin/routing", json={"mode": mode}, headers={"X-Rollback-Id": "rb-r"})
    assert response.status_code == 200
    doc = response.json()
    assert (doc["mode"], doc["weights"]) == (mode, weights)
    assert doc["effective"] == {"mode": mode, "weights": weights}
    assert doc["updated_by"] == "rb-r"
    assert client.put("/admin/routing", json={"mode": mode, "weights": weights}).status_code == 200


def test_hybrid_with_weights_and_restore_of_last_split(client):
    assert (
        client.put("/admin/routing", json={"mode": "hybrid", "weights": {"direct": 50, "mcp": 50}}).status_code == 200
    )
    client.put("/admin/routing", json={"mode": "mcp_only"})
    doc = client.put("/admin/routing", json={"mode": "hybrid"}).json()
    assert doc["weights"] == {"direct": 50, "mcp": 50}


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "hybrid", "weights": {"direct": 60, "mcp": 30}},
        {"mode": "mcp_only", "weights": {"direct": 50, "mcp": 50}},
        {"mode": "direct_only", "weights": {"direct": 0, "mcp": 100}},
    ],
)
def test_inconsistent_weights_are_400(client, body):
    response = client.put("/admin/routing", json=body)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_weights", "weights_contradict_mode"}
    assert client.get("/admin/routing").json()["mode"] == "hybrid"


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "sideways"},
        {},
        {"mode": "hybrid", "weights": {"direct": 150, "mcp": -50}},
        {"mode": "hybrid", "weights": {"direct": "70", "mcp": 30}},
    ],
)
def test_schema_errors_are_422(client, body):
    assert client.put("/admin/routing", json=body).status_code == 422


def test_effective_converges_after_routing_converge_seconds(make_client):
    client = make_client(routing_converge_seconds=0.5)
    doc = client.put("/admin/routing", json={"mode": "mcp_only"}).json()
    assert doc["mode"] == "mcp_only"
    assert doc["effective"] == {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}}
    health = client.get("/health").json()
    assert health["checks"]["routing"]["status"] == "degraded"
    assert health["status"] == "degraded"

    wait_for(lambda: client.get("/admin/routing").json()["effective"]["mode"] == "mcp_only")
    health = client.get("/health").json()
    assert health["checks"]["routing"] == {"status": "healthy", "detail": "effective mode matches desired"}
    assert health["status"] == "healthy"
