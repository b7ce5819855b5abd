"""State survives re-creating the app on the same state dir; the seed applies to an empty db only."""

from __future__ import annotations

from pathlib import Path

from sandbox_testlib import wait_for


def test_state_survives_app_recreation(make_client, tmp_path: Path):
    state = tmp_path / "persist"
    first = make_client(state_dir=state, deploy_seconds=0.3)
    first.patch("/admin/feature-flags", json={"flags": {"hybrid_routing": False}}, headers={"X-Rollback-Id": "rb-p"})
    first.put("/admin/routing", json={"mode": "mcp_only"})
    lease = first.post("/admin/locks/rollback", json={"holder": "alice", "reason": "persist"}).json()["lock"]
    deployment = first.post("/admin/releases/rollback", json={}, headers={"Idempotency-Key": "kp"}).json()["deployment"]
    log = first.get("/_sandbox/changes").json()["changes"]
    first.__exit__(None, None, None)

    second = make_client(state_dir=state, deploy_seconds=5)
    flags = second.get("/admin/feature-flags").json()["flags"]
    assert flags["hybrid_routing"]["enabled"] is False
    assert flags["hybrid_routing"]["updated_by"] == "rb-p"
    assert second.get("/admin/routing").json()["mode"] == "mcp_only"
    assert second.get("/admin/locks/rollback").json() == {"held": True, **lease}
    assert second.get("/_sandbox/changes").json()["changes"] == log
    # The deployment keeps the duration it started with, and the idempotency key still replays.
    done = wait_for(lambda: second.get(f"/admin/deployments/{deployment['id']}").json()["status"] == "succeeded")
    assert done
    assert second.get("/admin/releases").json()["current"] == "2025.01.10-1"
    replay = second.post("/admin/releases/rollback", json={}, headers={"Idempotency-Key": "kp"})
    assert (replay.status_code, replay.json()["deployment"]["id"]) == (200, deployment["id"])


def test_custom_seed_file(tmp_path: Path):
    from fastapi.testclient import TestClient

    from sandbox.app import Settings, create_app
    from sandbox.seed import load_seed
    from sandbox_testlib import AUTH, TOKEN

    seed_file = tmp_path / "seed.yml"
    seed_file.write_text(
        "flags: {only_flag: {enabled: false, description: d}}\n"
        "routing: {mode: mcp_only}\n"
        "releases: {available: [r1, r2], current: r1}\n"
    )
    app = create_app(Settings(token=TOKEN, state_dir=tmp_path / "s", seed=load_seed(seed_file)))
    with TestClient(app, headers=AUTH) as client:
        assert client.get("/health/feature-flags").json() == {"status": "healthy", "flags_total": 1, "enabled": []}
        assert client.get("/admin/routing").json()["weights"] == {"direct": 0, "mcp": 100}
        releases = client.get("/admin/releases").json()
        assert (releases["current"], releases["previous"], releases["history"]) == ("r1", None, [])
        response = client.post("/admin/releases/rollback", json={})
        assert (response.status_code, response.json()["error"]) == (409, "no_previous_release")
