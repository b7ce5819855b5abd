"""Fixtures for the sandbox tests: in-process TestClients and real `python -m sandbox api` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

# Explicit, so the helpers import under any --import-mode (prepend would add this directory anyway).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox_testlib import AUTH, REPO, TOKEN, ApiProcess, free_port, wait_for


def pytest_configure(config: pytest.Config) -> None:
    # Starlette nags about httpx vs httpx2; its TestClient works the same with either.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory of TestClients; the app keeps its state in tmp_path/state unless state_dir is given."""
    from fastapi.testclient import TestClient

    from sandbox.app import Settings, create_app
    from sandbox.faults import FaultConfig

    clients: list[TestClient] = []

    def make(state_dir: Path | None = None, **faults: Any) -> TestClient:
        settings = Settings(
            token=TOKEN, state_dir=state_dir or tmp_path / "state", faults=FaultConfig.model_validate(faults)
        )
        client = TestClient(create_app(settings), headers=AUTH)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client(deploy_seconds=0.5)


@pytest.fixture
def api_process(tmp_path: Path) -> Iterator[Callable[..., ApiProcess]]:
    """Start `python -m sandbox api` on a free port; every process started is stopped at teardown."""
    started: list[ApiProcess] = []

    def start(state_dir: Path, *extra: str) -> ApiProcess:
        port = free_port()
        log = tmp_path / f"api-{len(started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sandbox", "api", "--port", str(port), "--state-dir", str(state_dir), *extra],
                cwd=REPO,
                env={**os.environ, "ADMIN_TOKEN": TOKEN},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        api = ApiProcess(proc, f"http://127.0.0.1:{port}", log)
        started.append(api)

        def answers() -> bool:
            assert proc.poll() is None, f"api exited early:\n{log.read_text()}"
            try:
                return requests.get(f"{api.url}/health", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(answers, timeout=15, interval=0.05)
        return api

    yield start
    for api in started:
        api.stop()
