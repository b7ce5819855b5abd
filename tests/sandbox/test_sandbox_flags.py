"""Auth and feature flags (docs/admin-api.md: Conventions, Feature flags)."""

from __future__ import annotations

import pytest

from sandbox_testlib import AUTH

HYBRID_FLAGS = ["hybrid_routing", "direct_bedrock", "intelligent_routing", "bedrock_support_mode"]


@pytest.mark.parametrize(
    "headers", [{"Authorization": ""}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic c2FuZGJveA=="}]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/feature-flags"),
        ("PATCH", "/admin/feature-flags"),
        ("GET", "/admin/releases"),
        ("GET", "/admin/no-such-thing"),
    ],
)
def test_admin_needs_the_bearer_token(client, headers, method, path):
    response = client.request(method, path, headers=headers, json={"flags": {"hybrid_routing": False}})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert client.get("/admin/feature-flags").json()["flags"]["hybrid_routing"]["enabled"] is True


def test_health_and_sandbox_need_no_token(client):
    for path in ("/health", "/health/feature-flags", "/_sandbox/changes", "/_sandbox/faults", "/openapi.json"):
        assert client.get(path, headers={"Authorization": ""}).status_code == 200, path


def test_unknown_admin_path_is_404_with_error_shape(client):
    response = client.get("/admin/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_seed_flags(client):
    flags = client.get("/admin/feature-flags").json()["flags"]
    assert list(flags) == [*HYBRID_FLAGS, "pii_redaction", "audit_trail"]
    for name, flag in flags.items():
        assert flag["enabled"] is True, name
        assert flag["description"], name
        assert flag["updated_at"].endswith("Z")
    health = client.get("/health/feature-flags").json()
    assert health == {"status": "healthy", "flags_total": 6, "enabled": list(flags)}


def test_bulk_patch_sets_flags_and_records_rollback_id(client):
    body = {"flags": dict.fromkeys(HYBRID_FLAGS, False)}
    response = client.patch("/admin/feature-flags", json=body, headers={**AUTH, "X-Rollback-Id": "rb-1"})
    assert response.status_code == 200
    flags = response.json()["flags"]
    assert response.json() == client.get("/admin/feature-flags").json()
    for name in HYBRID_FLAGS:
        assert flags[name]["enabled"] is False
        assert flags[name]["updated_by"] == "rb-1"
    assert flags["pii_redaction"]["enabled"] is True
    assert flags["pii_redaction"]["updated_by"] == "seed"
    assert client.get("/health/feature-flags").json()["enabled"] == ["pii_redaction", "audit_trail"]


def test_bulk_patch_is_atomic_and_rejects_unknown_names(client):
    response = client.patch(
        "/admin/feature-flags", json={"flags": {"hybrid_routing": False, "typo": False, "bedrock_direct_path": True}}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "unknown_flags"
    assert body["unknown"] == ["bedrock_direct_path", "typo"]
    assert isinstance(body["detail"], str)
    assert client.get("/admin/feature-flags").json()["flags"]["hybrid_routing"]["enabled"] is True


@pytest.mark.parametrize(
    "body", [{"flags": {"hybrid_routing": "false"}}, {"flags": ["hybrid_routing"]}, {}, {"flags": {}, "extra": 1}]
)
def test_bulk_patch_schema_errors_are_422(client, body):
    response = client.patch("/admin/feature-flags", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


def test_put_flag(client):
    response = client.put(
        "/admin/feature-flags/direct_bedrock", json={"enabled": False}, headers={**AUTH, "X-Rollback-Id": "rb-2"}
    )
    assert response.status_code == 200
    doc = response.json()
    assert doc["name"] == "direct_bedrock"
    assert doc["enabled"] is False
    assert doc["updated_by"] == "rb-2"
    assert set(doc) == {"name", "enabled", "description", "updated_at", "updated_by"}


def test_put_unknown_flag_is_404(client):
    response = client.put("/admin/feature-flags/nope", json={"enabled": False})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_flag"
    assert "nope" not in client.get("/admin/feature-flags").json()["flags"]
