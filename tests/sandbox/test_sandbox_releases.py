"""Releases, rollback deployments, idempotency and the 409 cases."""

from __future__ import annotations

from sandbox_testlib import wait_for

AVAILABLE = ["2025.01.02-1", "2025.01.10-1", "2025.01.14-2"]


def rollback(client, body=None, key=None, rollback_id=None):
    headers = {}
    if key:
        headers["Idempotency-Key"] = key
    if rollback_id:
        headers["X-Rollback-Id"] = rollback_id
    return client.post("/admin/releases/rollback", json=body if body is not None else {}, headers=headers)


def finished(client, deployment_id):
    doc = client.get(f"/admin/deployments/{deployment_id}").json()
    return doc if doc["status"] != "in_progress" else None


def test_seed_releases(client):
    doc = client.get("/admin/releases").json()
    assert doc["current"] == "2025.01.14-2"
    assert doc["previous"] == "2025.01.10-1"
    assert doc["available"] == AVAILABLE
    assert doc["deployment"] is None
    assert [(h["action"], h["from"], h["to"], h["status"]) for h in doc["history"]] == [
        ("deploy", None, "2025.01.02-1", "succeeded"),
        ("deploy", "2025.01.02-1", "2025.01.10-1", "succeeded"),
        ("deploy", "2025.01.10-1", "2025.01.14-2", "succeeded"),
    ]
    entry = doc["history"][-1]
    assert set(entry) == {
        "deployment_id",
        "action",
        "from",
        "to",
        "status",
        "started_at",
        "finished_at",
        "rollback_id",
        "idempotency_key",
    }
    assert client.get(f"/admin/deployments/{entry['deployment_id']}").json()["status"] == "succeeded"


def test_rollback_to_previous_completes(client):
    response = rollback(client, key="k-1", rollback_id="rb-7")
    assert response.status_code == 202
    deployment = response.json()["deployment"]
    assert deployment["status"] == "in_progress"
    assert (deployment["from"], deployment["to"]) == ("2025.01.14-2", "2025.01.10-1")
    assert (deployment["idempotency_key"], deployment["rollback_id"]) == ("k-1", "rb-7")
    assert deployment["id"].startswith("d-")

    during = client.get("/admin/releases").json()
    assert during["deployment"]["id"] == deployment["id"]
    assert during["current"] == "2025.01.14-2"
    assert client.get("/health").json()["checks"]["release"]["status"] == "degraded"

    done = wait_for(lambda: finished(client, deployment["id"]))
    assert done["status"] == "succeeded"
    assert done["finished_at"] is not None
    after = client.get("/admin/releases").json()
    assert (after["current"], after["previous"], after["deployment"]) == ("2025.01.10-1", "2025.01.02-1", None)
    assert after["history"][-1]["deployment_id"] == deployment["id"]
    assert after["history"][-1]["action"] == "rollback"
    assert client.get("/health").json()["checks"]["release"] == {"status": "healthy", "detail": "2025.01.10-1"}


def test_same_idempotency_key_returns_the_first_deployment(client):
    first = rollback(client, key="same")
    assert first.status_code == 202
    again = rollback(client, key="same")
    assert again.status_code == 200
    assert again.json()["deployment"]["id"] == first.json()["deployment"]["id"]
    wait_for(lambda: finished(client, first.json()["deployment"]["id"]))
    # Whatever its status, and even with another body: no second deployment, no second step back.
    later = rollback(client, {"target": "2025.01.02-1"}, key="same")
    assert later.status_code == 200
    assert later.json()["deployment"]["status"] == "succeeded"
    assert client.get("/admin/releases").json()["current"] == "2025.01.10-1"


def test_deployment_in_progress_is_409(client):
    first = rollback(client, key="a").json()["deployment"]
    response = rollback(client, key="b")
    assert response.status_code == 409
    assert response.json()["error"] == "deployment_in_progress"
    assert response.json()["deployment"]["id"] == first["id"]
    # The failed attempt did not bind its key: once the deployment is done, "b" starts a new one.
    wait_for(lambda: finished(client, first["id"]))
    assert rollback(client, key="b").status_code == 202


def test_two_rollbacks_walk_two_steps_then_no_previous(client):
    for expected in ("2025.01.10-1", "2025.01.02-1"):
        deployment = rollback(client).json()["deployment"]
        assert deployment["to"] == expected
        wait_for(lambda d=deployment: finished(client, d["id"]))
    response = rollback(client)
    assert response.status_code == 409
    assert response.json()["error"] == "no_previous_release"
    assert client.get("/admin/releases").json()["previous"] is None


def test_explicit_target_unknown_and_already_current(client):
    assert rollback(client, {"target": "1999.01.01-1"}).status_code == 404
    assert rollback(client, {"target": "1999.01.01-1"}).json()["error"] == "unknown_release"
    response = rollback(client, {"target": "2025.01.14-2"})
    assert (response.status_code, response.json()["error"]) == (409, "already_current")
    response = rollback(client, {"target": "2025.01.02-1"})
    assert response.status_code == 202
    assert response.json()["deployment"]["to"] == "2025.01.02-1"


def test_rollback_without_body(client):
    response = client.post("/admin/releases/rollback")
    assert response.status_code == 202
    assert response.json()["deployment"]["to"] == "2025.01.10-1"


def test_failed_deployment_keeps_current_and_makes_health_unhealthy(make_client):
    client = make_client(deploy_seconds=0.2, deploy_fail=True)
    deployment = rollback(client).json()["deployment"]
    done = wait_for(lambda: finished(client, deployment["id"]))
    assert done["status"] == "failed"
    releases = client.get("/admin/releases").json()
    assert releases["current"] == "2025.01.14-2"
    assert releases["history"][-1]["status"] == "failed"
    health = client.get("/health").json()
    assert health["checks"]["release"]["status"] == "unhealthy"
    assert health["status"] == "unhealthy"


def test_unknown_deployment_is_404(client):
    response = client.get("/admin/deployments/d-nope")
    assert (response.status_code, response.json()["error"]) == (404, "unknown_deployment")
