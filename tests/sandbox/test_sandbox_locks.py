"""The rollback lock: acquire, renew, conflict, takeover, expiry and release."""

from __future__ import annotations

from sandbox_testlib import wait_for


def acquire(client, holder, reason="drill", ttl=900, takeover=False, rollback_id=None, replaces=None):
    headers = {"X-Rollback-Id": rollback_id} if rollback_id else {}
    body = {"holder": holder, "reason": reason, "ttl_seconds": ttl, "takeover": takeover}
    if replaces is not None:
        body["replaces"] = replaces
    return client.post("/admin/locks/rollback", json=body, headers=headers)


def test_free_lock(client):
    assert client.get("/admin/locks/rollback").json() == {"held": False}


def test_acquire_and_read(client):
    response = acquire(client, "alice", "level 2 rollback", rollback_id="rb-1")
    assert response.status_code == 201
    body = response.json()
    assert body["previous"] is None
    assert "taken_over" not in body
    lease = body["lock"]
    assert (lease["holder"], lease["reason"], lease["rollback_id"], lease["ttl_seconds"]) == (
        "alice",
        "level 2 rollback",
        "rb-1",
        900,
    )
    assert client.get("/admin/locks/rollback").json() == {"held": True, **lease}


def test_renew_by_same_run(client):
    first = acquire(client, "alice", "first", rollback_id="rb-1").json()["lock"]
    response = acquire(client, "alice", "second", ttl=1200, rollback_id="rb-1")
    assert response.status_code == 200
    body = response.json()
    assert body["previous"] == first
    assert (body["lock"]["reason"], body["lock"]["rollback_id"], body["lock"]["ttl_seconds"]) == (
        "second",
        "rb-1",
        1200,
    )
    assert body["lock"]["acquired_at"] == first["acquired_at"]
    # Without run ids on both sides the runs cannot be told apart: the holder renews.
    assert acquire(client, "alice", "third").status_code == 200


def test_another_run_of_the_same_holder_gets_409(client):
    """Two runs of one operator that both read the lease free: the write decides, the second is refused."""
    lease = acquire(client, "alice", "first", rollback_id="rb-1").json()["lock"]
    response = acquire(client, "alice", "second", rollback_id="rb-2")
    assert response.status_code == 409
    assert response.json()["lock"] == lease
    assert "for another run (rollback rb-1)" in response.json()["detail"]
    # A gone run's lease is taken over explicitly, naming it.
    taken = acquire(client, "alice", "second", takeover=True, rollback_id="rb-2", replaces="rb-1")
    assert taken.status_code == 201 and taken.json()["lock"]["rollback_id"] == "rb-2"


def test_a_takeover_of_a_lease_that_changed_hands_gets_409(client):
    """Two runs taking over the same stale lease: the first replaces it, the second names a lease now gone."""
    acquire(client, "alice", rollback_id="rb-1")
    assert acquire(client, "alice", takeover=True, rollback_id="rb-2", replaces="rb-1").status_code == 201
    late = acquire(client, "alice", takeover=True, rollback_id="rb-3", replaces="rb-1")
    assert late.status_code == 409
    assert late.json()["lock"]["rollback_id"] == "rb-2"
    assert "changed hands" in late.json()["detail"]
    assert client.get("/admin/locks/rollback").json()["rollback_id"] == "rb-2"


def test_other_holder_gets_409_with_current_lease(client):
    lease = acquire(client, "alice", "level 2 rollback").json()["lock"]
    response = acquire(client, "bob")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "lock_held"
    assert body["lock"] == lease
    assert {"holder", "reason", "acquired_at"} <= set(body["lock"])
    assert client.get("/admin/locks/rollback").json()["holder"] == "alice"


def test_takeover_is_recorded(client):
    old = acquire(client, "alice").json()["lock"]
    since = client.get("/_sandbox/changes").json()["last_seq"]
    response = acquire(client, "bob", "alice is away", takeover=True)
    assert response.status_code == 201
    body = response.json()
    assert body["taken_over"] is True
    assert body["previous"] == old
    assert body["lock"]["holder"] == "bob"
    (change,) = client.get(f"/_sandbox/changes?since={since}").json()["changes"]
    assert change["body"]["takeover"] is True
    assert change["result"] == {"taken_over": True, "previous_holder": "alice"}


def test_takeover_of_a_free_lock_is_a_plain_acquire(client):
    body = acquire(client, "bob", takeover=True).json()
    assert "taken_over" not in body
    assert body["previous"] is None


def test_expiry(client):
    old = acquire(client, "alice", ttl=0.3).json()["lock"]
    state = wait_for(lambda: (doc := client.get("/admin/locks/rollback").json())["held"] is False and doc)
    assert state == {"held": False, "expired": old}
    response = acquire(client, "bob")
    assert response.status_code == 201
    assert response.json()["previous"] == old
    assert "taken_over" not in response.json()


def test_release(client):
    acquire(client, "alice")
    response = client.delete("/admin/locks/rollback", params={"holder": "bob"})
    assert response.status_code == 409
    assert response.json()["error"] == "lock_held"
    assert response.json()["lock"]["holder"] == "alice"
    assert client.delete("/admin/locks/rollback", params={"holder": "alice"}).json() == {"released": True}
    assert client.get("/admin/locks/rollback").json() == {"held": False}
    assert client.delete("/admin/locks/rollback", params={"holder": "alice"}).json() == {"released": False}


def test_lock_request_validation(client):
    assert client.post("/admin/locks/rollback", json={"reason": "no holder"}).status_code == 422
    assert client.post("/admin/locks/rollback", json={"holder": "a", "ttl_seconds": 0}).status_code == 422
    assert client.post("/admin/locks/rollback", json={"holder": "a", "takover": True}).status_code == 422
    assert client.delete("/admin/locks/rollback").status_code == 422


def test_lease_names_the_run_in_structured_fields(client):
    body = {"holder": "alice", "reason": "Level 2", "controller": "ops-laptop-7", "pid": 41234}
    lease = client.post("/admin/locks/rollback", json=body, headers={"X-Rollback-Id": "rb-9"}).json()["lock"]
    assert (lease["controller"], lease["pid"], lease["rollback_id"]) == ("ops-laptop-7", 41234, "rb-9")
    assert lease["reason"] == "Level 2", "the reason stays for people"
    assert client.get("/admin/locks/rollback").json()["pid"] == 41234


def test_lease_without_run_fields_and_bad_ones(client):
    lease = acquire(client, "bob").json()["lock"]
    assert lease["controller"] is None and lease["pid"] is None
    bad = client.post("/admin/locks/rollback", json={"holder": "carol", "takeover": True, "pid": "12"})
    assert bad.status_code == 422, "pid must be a JSON integer"
