"""POST /v1/model-calls: steady "model call" traffic routed by the live flags and routing, for load tests."""

from __future__ import annotations

from collections import Counter

import pytest

from sandbox_testlib import free_port, wait_for

PATH = "/v1/model-calls"
ON = {"hybrid_routing": True, "direct_bedrock": True}


def calls(client, n: int = 200) -> Counter[str]:
    paths: Counter[str] = Counter()
    for _call in range(n):
        response = client.post(PATH, json={"model": "anthropic.claude-3-haiku", "prompt_tokens": 12})
        assert response.status_code == 200, response.text
        paths[response.json()["path"]] += 1
    return paths


def test_answer_needs_no_token_and_names_the_release(client):
    response = client.post(PATH, json={"model": "m"}, headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() | {"path": "?"} == {"path": "?", "model": "m", "release": "2025.01.14-2"}


def test_hybrid_splits_by_the_weights(client):
    client.put("/admin/routing", json={"mode": "hybrid", "weights": {"direct": 50, "mcp": 50}})
    paths = calls(client)
    assert set(paths) == {"direct", "mcp"}  # each missed with probability 2**-200
    assert 50 <= paths["direct"] <= 150


@pytest.mark.parametrize(
    ("flags", "routing", "only"),
    [
        ({"hybrid_routing": False}, {"mode": "hybrid"}, "mcp"),
        ({"direct_bedrock": False}, {"mode": "direct_only"}, "mcp"),
        ({"hybrid_routing": False, "direct_bedrock": False}, {"mode": "direct_only"}, "mcp"),
        ({}, {"mode": "mcp_only"}, "mcp"),
        ({}, {"mode": "direct_only"}, "direct"),
    ],
)
def test_flags_and_mode_pin_the_path(client, flags, routing, only):
    assert client.patch("/admin/feature-flags", json={"flags": {**ON, **flags}}).status_code == 200
    assert client.put("/admin/routing", json=routing).status_code == 200
    assert calls(client, 50) == {only: 50}


def test_the_effective_routing_decides_not_the_desired(make_client):
    client = make_client(routing_converge_seconds=30)
    client.put("/admin/routing", json={"mode": "direct_only"})  # desired; effective stays hybrid 70/30 for 30 s
    assert set(calls(client)) == {"direct", "mcp"}


def test_choose_path():
    from sandbox.routes.traffic import choose_path

    hybrid = {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}}
    assert [choose_path(ON, hybrid, draw) for draw in (0.0, 0.69, 0.7, 0.99)] == ["direct", "direct", "mcp", "mcp"]
    assert choose_path({"hybrid_routing": True}, hybrid, 0.0) == "mcp"  # a service without direct_bedrock
    assert choose_path(ON, {"mode": "mcp_only", "weights": {"direct": 0, "mcp": 100}}, 0.0) == "mcp"


def test_release_follows_a_rollback(client):
    deployment = client.post("/admin/releases/rollback", json={}).json()["deployment"]
    wait_for(lambda: client.get(f"/admin/deployments/{deployment['id']}").json()["status"] == "succeeded")
    assert client.post(PATH, json={"model": "m"}).json()["release"] == deployment["to"]


def test_counted_faulted_and_never_in_the_change_log(client):
    client.post("/_sandbox/reset")
    rule = {"path": PATH, "method": "POST", "error_rate": 1.0, "error_status": 503, "count": 1}
    assert client.put("/_sandbox/faults", json={"rules": [rule]}).status_code == 200
    assert client.post(PATH, json={"model": "m"}).status_code == 503
    assert client.post(PATH, json={"model": "m"}).status_code == 200
    assert client.get("/_sandbox/requests").json()["by_route"] == {f"POST {PATH}": 2}
    assert client.get("/_sandbox/changes").json()["changes"] == []
    assert client.get("/admin/feature-flags").json()["flags"]["hybrid_routing"]["updated_by"] == "seed"


@pytest.mark.parametrize(
    "body",
    [{}, {"model": ""}, {"model": "m" * 201}, {"model": "m", "prompt_tokens": -1},
     {"model": "m", "prompt_tokens": False}, {"model": "m", "prompt_tokens": "5"}, {"model": "m", "extra": 1}],
)
def test_bad_bodies_are_422(client, body):
    response = client.post(PATH, json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


def test_documented(client):
    op = client.get("/openapi.json").json()["paths"][PATH]["post"]
    assert "security" not in op
    assert {"200", "422"} <= set(op["responses"])


def test_server_sockets_disable_nagle():
    """Load tests reuse connections; without TCP_NODELAY each request waited about 40 ms (Nagle vs. delayed ACK).
    asyncio sets TCP_NODELAY on the connections of a listening socket whose protocol is IPPROTO_TCP."""
    import asyncio
    import socket

    from sandbox.server import bind_socket

    async def nodelay_of_a_connection() -> int:
        listener = bind_socket(free_port())
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def connected(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=listener)
        _reader, writer = await asyncio.open_connection(*listener.getsockname())
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(nodelay_of_a_connection()) != 0
