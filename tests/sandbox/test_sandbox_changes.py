"""The sandbox change log and reset."""

from __future__ import annotations


def changes(client, since=0):
    return client.get("/_sandbox/changes", params={"since": since}).json()["changes"]


def test_authorized_writes_are_logged_whatever_their_status(client):
    client.get("/admin/feature-flags")
    client.get("/admin/routing")
    client.patch("/admin/feature-flags", json={"flags": {"x": True}}, headers={"Authorization": "Bearer wrong"})
    client.patch("/admin/feature-flags", json={"flags": {"hybrid_routing": False}}, headers={"X-Rollback-Id": "rb-9"})
    client.put("/admin/feature-flags/nope", json={"enabled": True})
    client.put("/admin/routing", json={"mode": "hybrid", "weights": {"direct": 1, "mcp": 1}})
    client.post("/admin/releases/rollback", json={}, headers={"Idempotency-Key": "k"})
    client.delete("/admin/locks/rollback?holder=alice")

    log = changes(client)
    assert [(c["method"], c["path"], c["status"]) for c in log] == [
        ("PATCH", "/admin/feature-flags", 200),
        ("PUT", "/admin/feature-flags/nope", 404),
        ("PUT", "/admin/routing", 400),
        ("POST", "/admin/releases/rollback", 202),
        ("DELETE", "/admin/locks/rollback", 200),
    ]
    first = log[0]
    assert first["rollback_id"] == "rb-9"
    assert first["body"] == {"flags": {"hybrid_routing": False}}
    assert first["at"].endswith("Z")
    assert [c["seq"] for c in log] == sorted(c["seq"] for c in log)
    assert log[3]["idempotency_key"] == "k"
    assert log[3]["result"]["deployment_id"].startswith("d-")
    assert log[4]["query"] == "holder=alice"
    assert log[4]["body"] is None


def test_since_filters(client):
    for enabled in (False, True, False):
        client.put("/admin/feature-flags/audit_trail", json={"enabled": enabled})
    log = changes(client)
    assert len(log) == 3
    assert changes(client, log[0]["seq"]) == log[1:]
    assert changes(client, log[-1]["seq"]) == []
    assert client.get("/_sandbox/changes", params={"since": -1}).status_code == 422


def test_non_json_body_is_logged_as_text(client):
    client.patch("/admin/feature-flags", content=b"not json", headers={"Content-Type": "application/json"})
    (entry,) = changes(client)
    assert (entry["status"], entry["body"]) == (422, "not json")


def test_nan_is_a_422_and_logged_as_text(client):
    response = client.put("/admin/routing", content=b'{"mode": NaN}', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["input"] == "NaN"
    (entry,) = changes(client)
    assert (entry["status"], entry["body"]) == (422, '{"mode": NaN}')


def test_reset_restores_seed_and_clears_log(client):
    client.patch("/admin/feature-flags", json={"flags": {"hybrid_routing": False}})
    client.put("/admin/routing", json={"mode": "mcp_only"})
    client.post("/admin/locks/rollback", json={"holder": "alice"})
    last = client.get("/_sandbox/changes").json()["last_seq"]
    assert client.post("/_sandbox/reset", headers={"Authorization": ""}).json() == {"reset": True}
    assert client.get("/admin/feature-flags").json()["flags"]["hybrid_routing"]["enabled"] is True
    assert client.get("/admin/routing").json()["mode"] == "hybrid"
    assert client.get("/admin/locks/rollback").json() == {"held": False}
    assert changes(client) == []
    client.put("/admin/feature-flags/audit_trail", json={"enabled": False})
    assert changes(client)[0]["seq"] > last  # seqs keep growing, so pollers of ?since=N miss nothing
