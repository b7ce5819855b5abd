"""The real `python -m sandbox api` process: crash persistence, connection-level faults and CLI errors."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import requests

from sandbox_testlib import TOKEN, free_port, run_cli, wait_for


def test_state_survives_kill_9(api_process, tmp_path: Path):
    state = tmp_path / "state"
    api = api_process(state, "--deploy-seconds", "0.3")
    assert api.request("PATCH", "/admin/feature-flags", json={"flags": {"direct_bedrock": False}}).status_code == 200
    assert api.request("PUT", "/admin/routing", json={"mode": "mcp_only"}).status_code == 200
    deployment = api.request(
        "POST",
        "/admin/releases/rollback",
        json={},
        headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k9"},
    ).json()
    log = api.get("/_sandbox/changes").json()["changes"]
    assert len(log) == 3
    api.kill()  # SIGKILL: no shutdown hook runs

    again = api_process(state, "--deploy-seconds", "0.3")
    assert again.get("/admin/feature-flags").json()["flags"]["direct_bedrock"]["enabled"] is False
    assert again.get("/admin/routing").json()["mode"] == "mcp_only"
    assert again.get("/_sandbox/changes").json()["changes"] == log
    deployment_id = deployment["deployment"]["id"]
    wait_for(lambda: again.get(f"/admin/deployments/{deployment_id}").json()["status"] == "succeeded")
    assert again.get("/admin/releases").json()["current"] == "2025.01.10-1"


def test_drop_fault_closes_the_connection(api_process, tmp_path: Path):
    api = api_process(tmp_path / "state")
    rule = {"path": "/admin/feature-flags", "method": "PATCH", "drop": True, "count": 1}
    assert requests.put(f"{api.url}/_sandbox/faults", json={"rules": [rule]}, timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        api.request("PATCH", "/admin/feature-flags", json={"flags": {"hybrid_routing": False}})
    # Nothing changed, nothing logged, the server is fine and the rule is spent.
    assert api.get("/admin/feature-flags").json()["flags"]["hybrid_routing"]["enabled"] is True
    assert api.get("/_sandbox/changes").json()["changes"] == []
    assert api.request("PATCH", "/admin/feature-flags", json={"flags": {"hybrid_routing": False}}).status_code == 200
    log = api.log.read_text()
    assert '" 500' not in log
    assert "without starting response" not in log


def test_timeout_fault_hangs_past_the_client_timeout(api_process, tmp_path: Path):
    api = api_process(
        tmp_path / "state",
        "--faults",
        str(
            _faults_file(
                tmp_path, {"rules": [{"path": "/admin/routing", "method": "PUT", "timeout_seconds": 1.0, "count": 1}]}
            )
        ),
    )
    with pytest.raises(requests.Timeout):
        api.request("PUT", "/admin/routing", json={"mode": "mcp_only"}, timeout=0.3)
    assert api.get("/health", timeout=1).status_code == 200  # other requests are served meanwhile
    # The server still completes the write after the hang: the case idempotency keys and re-reads exist for.
    wait_for(lambda: api.get("/admin/routing").json()["mode"] == "mcp_only", timeout=5)
    (entry,) = api.get("/_sandbox/changes").json()["changes"]
    assert (entry["path"], entry["status"]) == ("/admin/routing", 200)


def _faults_file(tmp_path: Path, content: dict) -> Path:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(content))
    return path


def test_token_is_never_printed(api_process, tmp_path: Path):
    api = api_process(tmp_path / "state")
    api.get("/admin/feature-flags")
    api.stop()
    assert TOKEN not in api.log.read_text()


def _env_without_token() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "ADMIN_TOKEN"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["api", "--port", "1234", "--state-dir", "{tmp}/s"], "no admin token"),
        (["api", "--port", "99999", "--token", "t", "--state-dir", "{tmp}/s"], "port must be 1-65535"),
        (["api", "--port", "x", "--token", "t", "--state-dir", "{tmp}/s"], "not a port number"),
        (["api", "--port", "1234", "--token", "t", "--state-dir", "{tmp}/s", "--deploy-seconds", "-1"], "seconds"),
        (
            ["api", "--port", "1234", "--token", "t", "--state-dir", "{tmp}/s", "--seed", "{tmp}/missing.yml"],
            "cannot read seed file",
        ),
        (
            ["api", "--port", "1234", "--token", "t", "--state-dir", "{tmp}/s", "--faults", "{tmp}/bad.yml"],
            "faults file",
        ),
        (["up", "--inventory", "{tmp}/no-inventory", "--state-dir", "{tmp}/st"], "cannot read"),
        (["aws-seed", "--endpoint-url", "not-a-url", "--region", "eu-central-1"], "not an http(s) URL"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_without_traceback(tmp_path: Path, args, message):
    (tmp_path / "bad.yml").write_text("rules: [{path: no-slash}]\n")
    result = run_cli(*(arg.format(tmp=tmp_path) for arg in args), env=_env_without_token())
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_busy_port_exits_2(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("api", "--port", str(port), "--token", "t", "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_free_port_helper_is_usable():
    assert 1024 <= free_port() <= 65535


def test_one_process_serves_one_environment_per_port(api_process, tmp_path: Path):
    """The fleet benchmark's sandbox: environments on several ports, each with its own state, stopped together."""
    extra = free_port()
    api = api_process(tmp_path / "state", "--port", str(extra))
    other = f"http://127.0.0.1:{extra}"
    wait_for(lambda: requests.get(f"{other}/health", timeout=1).status_code == 200, timeout=15, interval=0.05)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.put(f"{other}/admin/routing", json={"mode": "mcp_only"}, headers=auth, timeout=5).ok
    assert requests.get(f"{other}/admin/routing", headers=auth, timeout=5).json()["mode"] == "mcp_only"
    assert api.get("/admin/routing").json()["mode"] == "hybrid", "each port is its own environment"
    assert len(list((tmp_path / "state").iterdir())) == 2
    api.stop()
    assert api.proc.returncode is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{other}/health", timeout=2)


def test_requests_are_counted_until_reset(api_process, tmp_path: Path):
    api = api_process(tmp_path / "state")
    assert requests.post(f"{api.url}/_sandbox/reset", timeout=5).ok  # the fixture's readiness probes counted
    rule = {"path": "/health", "error_rate": 1, "count": 1}
    assert requests.put(f"{api.url}/_sandbox/faults", json={"rules": [rule]}, timeout=5).ok
    assert api.get("/health").status_code == 503
    api.get("/health")
    api.get("/admin/feature-flags")
    before = time.time()
    counted = requests.get(f"{api.url}/_sandbox/requests", timeout=5).json()
    times = counted.pop("times")  # when each arrived: a cap on requests per second is checked against them
    # One of them got the injected 503 instead of an answer: what a client had to retry.
    assert counted == {"total": 3, "by_route": {"GET /admin/feature-flags": 1, "GET /health": 2}, "injected": 1}
    assert len(times) == 3 and times == sorted(times) and before - 5 < times[0] <= times[-1] <= before
    assert requests.post(f"{api.url}/_sandbox/reset", timeout=5).ok
    cleared = requests.get(f"{api.url}/_sandbox/requests", timeout=5).json()
    assert cleared == {"total": 0, "by_route": {}, "injected": 0, "times": []}, "reset clears them all"


def test_a_held_health_request_answers_on_recovery_or_after_its_wait(api_process, tmp_path: Path):
    """Issue 21: GET /health?wait_for=healthy&wait_seconds=N is one request that answers as soon as the service is
    healthy (within a quarter of a second), or after N seconds with the health at that moment."""
    api = api_process(tmp_path / "state")
    assert requests.put(f"{api.url}/_sandbox/faults", json={"health_status": "unhealthy"}, timeout=5).ok
    started = time.monotonic()
    held = requests.get(f"{api.url}/health", params={"wait_for": ["healthy", "degraded"], "wait_seconds": 1.5},
                        timeout=10)
    assert held.json()["status"] == "unhealthy" and 1.5 <= time.monotonic() - started < 2.5

    def recover() -> None:
        time.sleep(1.0)
        requests.put(f"{api.url}/_sandbox/faults", json={}, timeout=5)

    import threading

    threading.Thread(target=recover).start()
    started = time.monotonic()
    held = requests.get(f"{api.url}/health", params={"wait_for": "healthy", "wait_seconds": 10}, timeout=15)
    waited = time.monotonic() - started
    assert held.json()["status"] == "healthy" and 1.0 <= waited < 1.6, waited
    assert requests.get(f"{api.url}/health", params={"wait_seconds": 99}, timeout=5).status_code == 422
