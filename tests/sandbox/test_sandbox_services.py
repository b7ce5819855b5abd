"""`up` / `down` / `aws-seed` against a temporary inventory with free ports (real processes, real moto)."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox_testlib import free_port, run_cli

REGION = "eu-central-1"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@pytest.fixture
def sandbox_dirs(tmp_path: Path) -> Iterator[tuple[Path, Path, int, int]]:
    api_port, moto_port, sink_port, smtp_port = free_port(), free_port(), free_port(), free_port()
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(
        "---\n"
        "hybrid_routing_environment: sandbox\n"
        f"hybrid_routing_api_base: http://127.0.0.1:{api_port}\n"
        f"hybrid_routing_aws_endpoint_url: http://127.0.0.1:{moto_port}\n"
        f"hybrid_routing_aws_region: {REGION}\n"
        f"hybrid_routing_pagerduty_events_url: http://127.0.0.1:{sink_port}/pagerduty/v2/enqueue\n"
        f"hybrid_routing_slack_api_url: http://127.0.0.1:{sink_port}/slack/api\n"
        "hybrid_routing_smtp_host: 127.0.0.1\n"
        f"hybrid_routing_smtp_port: {smtp_port}\n"
        "hybrid_routing_smtp_username: sandbox\n"
        "hybrid_routing_smtp_password: sandbox-smtp-secret\n"
    )
    (tmp_path / "ports.json").write_text(json.dumps({"sink": sink_port, "smtp": smtp_port}))
    state = tmp_path / "state"
    yield inventory, state, api_port, moto_port
    # Whatever the test did, leave no process behind.
    run_cli("down", "--state-dir", str(state))
    for pid_file in state.glob("*.pid"):
        pid = json.loads(pid_file.read_text())["pid"]
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)


def _pids(state: Path) -> dict[str, int]:
    return {path.stem: json.loads(path.read_text())["pid"] for path in state.glob("*.pid")}


def _lambda_client(moto_port: int):
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return session.client("lambda", endpoint_url=f"http://127.0.0.1:{moto_port}")


def test_up_down_and_aws_seed(sandbox_dirs):
    inventory, state, api_port, moto_port = sandbox_dirs
    env = {key: value for key, value in os.environ.items() if key != "ADMIN_TOKEN"}

    result = run_cli("up", "--inventory", str(inventory), "--state-dir", str(state), env=env)
    assert result.returncode == 0, result.stderr
    pids = _pids(state)
    assert set(pids) == {"admin-api", "moto", "sink"}
    lines = result.stdout.splitlines()
    assert any(f"http://127.0.0.1:{api_port}" in line and str(pids["admin-api"]) in line for line in lines)
    assert any(f"http://127.0.0.1:{moto_port}" in line and str(pids["moto"]) in line for line in lines)

    # Generated token: file mode 0600, never printed, and it opens the API.
    token_file = state / "admin_token"
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert f"export ADMIN_TOKEN=$(cat {token_file})" in result.stdout
    assert token not in result.stdout + result.stderr
    api = f"http://127.0.0.1:{api_port}"
    assert requests.get(f"{api}/admin/feature-flags", timeout=5).status_code == 401
    response = requests.get(f"{api}/admin/releases", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.json()["current"] == "2025.01.14-2"
    assert (state / "api" / "sandbox.db").exists()

    # The notification sink records what its receivers get, SMTP with STARTTLS and the inventory's login.
    ports = json.loads((inventory.parent / "ports.json").read_text())
    sink = f"http://127.0.0.1:{ports['sink']}"
    event = {"routing_key": "k", "event_action": "trigger", "dedup_key": "d",
             "payload": {"summary": "s", "source": "sandbox", "severity": "info"}}
    assert requests.post(f"{sink}/pagerduty/v2/enqueue", json=event, timeout=5).status_code == 202
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=5) as smtp:
        smtp.starttls()
        smtp.login("sandbox", "sandbox-smtp-secret")
        smtp.sendmail("a@sandbox.invalid", ["b@sandbox.invalid"], "Subject: hello\n\nbody")
    assert requests.get(f"{sink}/_sink/pagerduty", timeout=5).json()["open"] == ["d"]
    [mail] = requests.get(f"{sink}/_sink/mail", timeout=5).json()["mail"]
    assert mail["subject"] == "hello" and mail["tls"] and mail["auth_user"] == "sandbox"
    assert "sandbox-smtp-secret" not in " ".join(Path(f"/proc/{pids['sink']}/cmdline").read_text().split("\0"))

    # moto was seeded by up.
    lam = _lambda_client(moto_port)
    for function in ("hybrid-router", "mcp-gateway"):
        assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "3"
        versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=function)["Versions"]]
        assert versions == ["$LATEST", "1", "2", "3"]
        assert lam.get_function(FunctionName=function)["Configuration"]["Runtime"] == "python3.11"

    # A second up starts nothing; aws-seed is idempotent and puts a moved alias back.
    again = run_cli("up", "--inventory", str(inventory), "--state-dir", str(state), env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already running") == 3
    assert _pids(state) == pids
    lam.update_alias(FunctionName="hybrid-router", Name="live", FunctionVersion="2")
    for _run in range(2):
        seeded = run_cli("aws-seed", "--endpoint-url", f"http://127.0.0.1:{moto_port}", "--region", REGION)
        assert seeded.returncode == 0, seeded.stderr
        assert "testing" not in seeded.stdout + seeded.stderr
    for function in ("hybrid-router", "mcp-gateway"):
        assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "3"
        assert len(lam.list_versions_by_function(FunctionName=function)["Versions"]) == 4

    down = run_cli("down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids.values())
    assert _pids(state) == {}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api}/health", timeout=2)
    assert run_cli("down", "--state-dir", str(state)).returncode == 0  # idempotent


def test_up_uses_given_token_and_refuses_a_busy_port(sandbox_dirs, api_process, tmp_path: Path):
    inventory, state = sandbox_dirs[:2]
    intruder = api_process(tmp_path / "other")  # something else answers on the inventory's port
    (inventory / "group_vars" / "all.yml").write_text(f"hybrid_routing_api_base: {intruder.url}\n")
    result = run_cli("up", "--inventory", str(inventory), "--state-dir", str(state), "--token", "given")
    assert result.returncode == 1
    assert "something else already answers" in result.stderr
    assert _pids(state) == {}
    assert not (state / "admin_token").exists()  # an explicit token is never written


def test_up_rejects_non_loopback_urls(sandbox_dirs):
    inventory, state = sandbox_dirs[:2]
    (inventory / "group_vars" / "all.yml").write_text("hybrid_routing_api_base: http://0.0.0.0:18787\n")
    result = run_cli("up", "--inventory", str(inventory), "--state-dir", str(state))
    assert result.returncode == 2
    assert "http://127.0.0.1:PORT" in result.stderr
