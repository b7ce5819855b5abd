"""The rollback snapshot: create-only PUT (If-None-Match: *), replace, read, delete, persistence and reset."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox_testlib import wait_for

PATH = "/admin/rollback/snapshot"
CREATE_ONLY = {"If-None-Match": "*"}
SNAPSHOT = {
    "feature_flags": {"hybrid_routing": True, "direct_bedrock": False},
    "routing": {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}},
    "release": "2025.01.14-2",
    "nested": [1, 2.5, None, "x", {"deep": []}],
    "empty": {},
}


def put(client, snapshot, create_only=False, rollback_id=None):
    headers = dict(CREATE_ONLY) if create_only else {}
    if rollback_id:
        headers["X-Rollback-Id"] = rollback_id
    return client.put(PATH, json={"snapshot": snapshot}, headers=headers)


def changes(client, since=0):
    return client.get("/_sandbox/changes", params={"since": since}).json()["changes"]


def test_get_without_snapshot_is_404(client):
    response = client.get(PATH)
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "no_snapshot"
    assert isinstance(body["detail"], str)


def test_create_only_then_412_with_the_stored_doc(client):
    created = put(client, SNAPSHOT, create_only=True, rollback_id="rb-1")
    assert created.status_code == 201
    doc = created.json()
    assert set(doc) == {"snapshot", "stored_at", "stored_by"}
    assert doc["snapshot"] == SNAPSHOT
    assert doc["stored_by"] == "rb-1"
    assert doc["stored_at"].endswith("Z")
    assert client.get(PATH).json() == doc

    conflict = put(client, {"other": "state"}, create_only=True, rollback_id="rb-2")
    assert conflict.status_code == 412
    body = conflict.json()
    assert body["error"] == "snapshot_exists"
    assert body["snapshot"] == doc
    assert client.get(PATH).json() == doc


def test_create_only_accepts_spaces_around_the_star(client):
    response = client.put(PATH, json={"snapshot": {"a": 1}}, headers={"If-None-Match": " * "})
    assert response.status_code == 201
    assert put(client, {"a": 2}, create_only=True).status_code == 412


def test_plain_put_creates_then_replaces(client):
    first = put(client, {"v": 1}, rollback_id="rb-1")
    assert first.status_code == 201
    assert first.json()["snapshot"] == {"v": 1}
    second = put(client, {"v": 2})
    assert second.status_code == 200
    doc = second.json()
    assert (doc["snapshot"], doc["stored_by"]) == ({"v": 2}, None)
    assert client.get(PATH).json() == doc
    # A replaced snapshot is again protected against create-only writers.
    assert put(client, {"v": 3}, create_only=True).json()["snapshot"] == doc


def test_delete(client):
    assert client.delete(PATH).json() == {"deleted": False}
    doc = put(client, SNAPSHOT, rollback_id="rb-1").json()
    response = client.delete(PATH)
    assert response.status_code == 200
    assert response.json() == {"deleted": True, "snapshot": doc}
    assert client.get(PATH).status_code == 404
    assert client.delete(PATH).json() == {"deleted": False}
    # After a delete, a create-only PUT creates again.
    assert put(client, {"v": 2}, create_only=True).status_code == 201


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_needs_the_token(client, method):
    put(client, {"v": 1})
    for auth in ("Bearer wrong", ""):
        response = client.request(method, PATH, json={"snapshot": {"v": 2}}, headers={"Authorization": auth})
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
    assert client.get(PATH).json()["snapshot"] == {"v": 1}


def test_writes_are_logged_reads_are_not(client):
    client.get(PATH)
    put(client, {"v": 1}, create_only=True, rollback_id="rb-1")
    put(client, {"v": 2}, create_only=True, rollback_id="rb-2")
    put(client, {"v": 3}, rollback_id="rb-3")
    client.get(PATH)
    client.put(PATH, json={"snapshot": {"v": 4}}, headers={"Authorization": "Bearer wrong"})
    client.delete(PATH, headers={"X-Rollback-Id": "rb-4"})
    client.delete(PATH)
    client.put(PATH, json={"snapshot": [1]}, headers={"X-Rollback-Id": "rb-5"})

    log = changes(client)
    assert [(c["method"], c["path"], c["status"], c["rollback_id"]) for c in log] == [
        ("PUT", PATH, 201, "rb-1"),
        ("PUT", PATH, 412, "rb-2"),
        ("PUT", PATH, 200, "rb-3"),
        ("DELETE", PATH, 200, "rb-4"),
        ("DELETE", PATH, 200, None),
        ("PUT", PATH, 422, "rb-5"),
    ]
    assert [c["body"] for c in log] == [
        {"snapshot": {"v": 1}},
        {"snapshot": {"v": 2}},
        {"snapshot": {"v": 3}},
        None,
        None,
        {"snapshot": [1]},
    ]


def test_snapshot_writes_are_not_rollback_actions(make_client):
    client = make_client(recover_after_seconds=0.4)

    def incident():
        return client.get("/health").json()["checks"]["incident"]

    put(client, {"v": 1}, create_only=True)
    put(client, {"v": 2}, create_only=True)
    put(client, {"v": 3})
    client.delete(PATH)
    assert incident() == {"status": "unhealthy", "detail": "incident ongoing: no rollback action yet"}

    client.put("/admin/routing", json={"mode": "mcp_only"})
    acted = time.monotonic()
    wait_for(lambda: incident()["status"] == "healthy")
    recovered = incident()
    # Snapshot writes after recovery do not restart the clock.
    put(client, {"v": 4}, create_only=True)
    put(client, {"v": 5})
    client.delete(PATH)
    assert incident() == recovered
    assert client.get("/health").json()["status"] == "healthy"
    assert time.monotonic() - acted >= 0.35


def test_survives_app_recreation(make_client, tmp_path: Path):
    state = tmp_path / "persist"
    first = make_client(state_dir=state)
    doc = put(first, SNAPSHOT, create_only=True, rollback_id="rb-p").json()
    first.__exit__(None, None, None)

    second = make_client(state_dir=state)
    assert second.get(PATH).json() == doc
    conflict = put(second, {"v": 2}, create_only=True)
    assert (conflict.status_code, conflict.json()["snapshot"]) == (412, doc)


def test_reset_clears_it(client):
    put(client, SNAPSHOT)
    assert client.post("/_sandbox/reset", headers={"Authorization": ""}).json() == {"reset": True}
    assert client.get(PATH).status_code == 404
    assert client.delete(PATH).json() == {"deleted": False}
    assert put(client, {"v": 1}, create_only=True).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        [],
        "snapshot",
        {"snapshot": None},
        {"snapshot": []},
        {"snapshot": "text"},
        {"snapshot": 1},
        {"snapshot": True},
        {"snapshot": {"a": 1}, "extra": 1},
        {"snapshots": {"a": 1}},
    ],
)
def test_bad_bodies_are_422(client, body):
    for headers in ({}, CREATE_ONLY):
        response = client.put(PATH, json=body, headers=headers)
        assert response.status_code == 422, (body, headers)
        assert response.json()["error"] == "validation_error"
    assert client.get(PATH).status_code == 404


def test_non_json_and_non_finite_bodies_are_422(client):
    raws = (b"not json", b'{"snapshot": {"x": NaN}}', b'{"snapshot": {"x": [-Infinity]}}')
    for raw in raws:
        response = client.put(PATH, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, raw
        assert response.json()["error"] == "validation_error"
    assert client.get(PATH).status_code == 404
    # Not JSON, so the change log keeps them as text.
    assert [(c["status"], c["body"]) for c in changes(client)] == [(422, raw.decode()) for raw in raws]


def test_other_if_none_match_values_are_422(client):
    put(client, {"v": 1})
    for value in ('"*"', '"etag"', "*, *", "x"):
        response = client.put(PATH, json={"snapshot": {"v": 2}}, headers={"If-None-Match": value})
        assert response.status_code == 422, value
        assert response.json()["errors"][0]["loc"] == ["header", "If-None-Match"]
    assert client.get(PATH).json()["snapshot"] == {"v": 1}


def test_openapi(client):
    spec = client.get("/openapi.json").json()
    ops = spec["paths"][PATH]
    assert set(ops) >= {"get", "put", "delete"}
    for op in ops.values():
        assert op["security"] == [{"HTTPBearer": []}]
        assert "401" in op["responses"]
    assert {"200", "201", "412", "422"} <= set(ops["put"]["responses"])
    assert "404" in ops["get"]["responses"]
    headers = {p["name"] for p in ops["put"]["parameters"] if p["in"] == "header"}
    assert headers == {"If-None-Match", "X-Rollback-Id"}
    schemas = spec["components"]["schemas"]
    assert schemas["RollbackSnapshotPut"]["additionalProperties"] is False
    assert schemas["RollbackSnapshotPut"]["required"] == ["snapshot"]
    assert schemas["SnapshotExists"]["properties"]["snapshot"]["$ref"].endswith("/RollbackSnapshotDocument")
