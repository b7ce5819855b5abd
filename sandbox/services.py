"""`up` / `down`: start in the background what the sandbox inventory points at, and stop it again.

A service is described by a ServiceSpec built from the inventory's group_vars by one of SERVICE_FACTORIES;
to add a service (e.g. a notification sink), write a factory and append it to that list.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
TOKEN_FILE = "admin_token"
READY_DEADLINE = 30.0
STOP_DEADLINE = 10.0
POLL_INTERVAL = 0.1
LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}


class ServiceError(Exception):
    """A user-facing failure of up/down."""


class InventoryError(ServiceError):
    """The inventory cannot be read or asks for something the sandbox cannot serve (bad input)."""


@dataclass
class UpContext:
    inventory_vars: dict[str, Any]
    state_dir: Path
    token: str | None
    token_from_file: bool = False

    def admin_token(self) -> str:
        """--token / ADMIN_TOKEN, else the token file in the state dir (created with a random token)."""
        if self.token:
            return self.token
        path = self.state_dir / TOKEN_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        self.token = path.read_text().strip()
        self.token_from_file = True
        return self.token


@dataclass
class ServiceSpec:
    name: str
    url: str
    argv: list[str]
    probe: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    # Runs once after a fresh start has answered (not when the service was already running).
    after_start: Callable[[Callable[[str], None]], None] | None = None


def load_inventory_vars(inventory: Path) -> dict[str, Any]:
    path = inventory / "group_vars" / "all.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InventoryError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InventoryError(f"{path} must be a mapping of variables")
    return data


def loopback_port(url: Any, variable: str) -> int:
    """Port of a http://127.0.0.1:PORT URL; anything the sandbox cannot serve locally is an error."""
    parts = urlsplit(str(url))
    try:
        port = parts.port
    except ValueError as exc:
        raise InventoryError(f"{variable}: invalid port in {url!r}") from exc
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or port is None:
        raise InventoryError(f"{variable} must look like http://127.0.0.1:PORT for the sandbox, got {url!r}")
    return port


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True when something speaks HTTP at url, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def _sandbox_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "sandbox", *args]


# Service factories: each returns a spec when the inventory asks for that service, else None.


def admin_api_service(ctx: UpContext) -> ServiceSpec | None:
    base = ctx.inventory_vars.get("hybrid_routing_api_base")
    if not base:
        return None
    port = loopback_port(base, "hybrid_routing_api_base")
    url = f"http://127.0.0.1:{port}"
    argv = _sandbox_argv("api", "--port", str(port), "--state-dir", str(ctx.state_dir / "api"))
    endpoint = ctx.inventory_vars.get("hybrid_routing_aws_endpoint_url")
    if endpoint:
        # The sandbox plays the service: it publishes its CloudWatch metrics to the local AWS (docs/metrics.md).
        moto_port = loopback_port(endpoint, "hybrid_routing_aws_endpoint_url")
        argv += ["--cloudwatch-endpoint", f"http://127.0.0.1:{moto_port}",
                 "--aws-region", str(ctx.inventory_vars.get("hybrid_routing_aws_region") or "us-east-1"),
                 "--environment", str(ctx.inventory_vars.get("hybrid_routing_environment") or "sandbox")]
    return ServiceSpec(
        name="admin-api",
        url=url,
        argv=argv,
        env={"ADMIN_TOKEN": ctx.admin_token()},  # via the environment: argv is visible in ps
        probe=lambda: http_answers(f"{url}/health"),
    )


def moto_service(ctx: UpContext) -> ServiceSpec | None:
    endpoint = ctx.inventory_vars.get("hybrid_routing_aws_endpoint_url")
    if not endpoint:
        return None
    port = loopback_port(endpoint, "hybrid_routing_aws_endpoint_url")
    url = f"http://127.0.0.1:{port}"
    region = str(ctx.inventory_vars.get("hybrid_routing_aws_region") or "us-east-1")

    def seed(log: Callable[[str], None]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from .aws_seed import seed_aws

        try:
            seed_aws(url, region, log=lambda line: log(f"  {line}"))
        except (BotoCoreError, ClientError) as exc:
            raise ServiceError(f"seeding moto at {url} failed: {exc}") from exc

    return ServiceSpec(
        name="moto",
        url=url,
        argv=[sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        probe=lambda: http_answers(f"{url}/moto-api/"),
        after_start=seed,
    )


SINK_URL_VARIABLES = ("hybrid_routing_slack_api_url", "hybrid_routing_slack_webhook_url",
                      "hybrid_routing_pagerduty_events_url", "hybrid_routing_statuspage_api_url")


def sink_service(ctx: UpContext) -> ServiceSpec | None:
    """The notification sink, when the inventory points a receiver at loopback: every HTTP receiver on one port, and
    SMTP (STARTTLS, the inventory's login) when hybrid_routing_smtp_host is loopback."""
    ports = {}
    for variable in SINK_URL_VARIABLES:
        url = ctx.inventory_vars.get(variable)
        if url and urlsplit(str(url)).hostname in LOOPBACK_HOSTS:
            ports[variable] = loopback_port(url, variable)
    if not ports:
        return None
    if len(set(ports.values())) > 1:
        raise InventoryError("the sandbox serves every notification receiver on one port; "
                             f"these differ: {', '.join(f'{name}={port}' for name, port in ports.items())}")
    port = next(iter(ports.values()))
    url = f"http://127.0.0.1:{port}"
    argv = _sandbox_argv("sink", "--port", str(port), "--state-dir", str(ctx.state_dir / "sink"))
    env = {}
    if str(ctx.inventory_vars.get("hybrid_routing_smtp_host") or "") in LOOPBACK_HOSTS:
        try:
            smtp_port = int(ctx.inventory_vars.get("hybrid_routing_smtp_port") or 587)
        except (TypeError, ValueError) as exc:
            raise InventoryError("hybrid_routing_smtp_port must be a port number") from exc
        argv += ["--smtp-port", str(smtp_port)]
        username = ctx.inventory_vars.get("hybrid_routing_smtp_username")
        if username:
            argv += ["--smtp-username", str(username)]
            # via the environment: argv is visible in ps
            env["SINK_SMTP_PASSWORD"] = str(ctx.inventory_vars.get("hybrid_routing_smtp_password") or "")
    return ServiceSpec(name="sink", url=url, argv=argv, env=env, probe=lambda: http_answers(f"{url}/health"))


# moto first: the admin API publishes its metrics there from the start.
SERVICE_FACTORIES: list[Callable[[UpContext], ServiceSpec | None]] = [moto_service, admin_api_service, sink_service]


# Process bookkeeping: <state-dir>/<name>.pid holds JSON {name, pid, url, argv}; logs go to <name>.log.


def _pid_path(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.pid"


def _read_pid_file(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
        int(record["pid"])
        return record
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie (exited, not yet reaped by its new parent) counts as gone.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _is_our_process(record: dict[str, Any]) -> bool:
    """Guard against pid reuse: the live process must still run the command we started."""
    pid = int(record["pid"])
    if not _process_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return True  # no /proc: trust the pid file
    return [part.decode(errors="replace") for part in cmdline] == list(record.get("argv", []))


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait(predicate: Callable[[], bool], deadline: float) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(POLL_INTERVAL)
    return predicate()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:  # started with start_new_session: signal its whole group
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_process(pid: int, deadline: float = STOP_DEADLINE) -> str:
    _signal_group(pid, signal.SIGTERM)
    if _wait(lambda: not _process_alive(pid), deadline):
        return "stopped"
    _signal_group(pid, signal.SIGKILL)
    _wait(lambda: not _process_alive(pid), 5.0)
    return "killed after SIGTERM deadline"


@dataclass
class Started:
    spec: ServiceSpec
    pid: int
    fresh: bool


def _pythonpath() -> str:
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(PACKAGE_ROOT), existing]) if existing else str(PACKAGE_ROOT)


def _start(spec: ServiceSpec, state_dir: Path) -> int:
    log_path = state_dir / f"{spec.name}.log"
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                spec.argv,
                cwd=PACKAGE_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": _pythonpath(), **spec.env},
                start_new_session=True,
            )
    except OSError as exc:
        raise ServiceError(f"cannot start {spec.name}: {exc}") from exc
    _pid_path(state_dir, spec.name).write_text(
        json.dumps({"name": spec.name, "pid": proc.pid, "url": spec.url, "argv": spec.argv})
    )

    def ready() -> bool:
        if proc.poll() is not None:
            raise ServiceError(
                f"{spec.name} exited with status {proc.returncode} before answering; "
                f"last lines of {log_path}:\n{_log_tail(log_path)}"
            )
        return spec.probe()

    try:
        if not _wait(ready, READY_DEADLINE):
            raise ServiceError(f"{spec.name} did not answer at {spec.url} within {READY_DEADLINE:.0f}s; see {log_path}")
    except ServiceError:
        stop_process(proc.pid)
        _pid_path(state_dir, spec.name).unlink(missing_ok=True)
        raise
    return proc.pid


def up(inventory: Path, state_dir: Path, token: str | None, log: Callable[[str], None] = print) -> list[Started]:
    state_dir.mkdir(parents=True, exist_ok=True)
    ctx = UpContext(load_inventory_vars(inventory), state_dir.resolve(), token)
    specs = [spec for factory in SERVICE_FACTORIES if (spec := factory(ctx)) is not None]
    if not specs:
        raise InventoryError(
            f"{inventory}/group_vars/all.yml names no sandbox service "
            "(hybrid_routing_api_base, hybrid_routing_aws_endpoint_url)"
        )
    started: list[Started] = []
    try:
        for spec in specs:
            record = _read_pid_file(_pid_path(state_dir, spec.name))
            if record is not None and _is_our_process(record) and spec.probe():
                started.append(Started(spec, int(record["pid"]), fresh=False))
                log(f"{spec.name:<10} {spec.url:<24} pid {record['pid']:<8} already running")
                continue
            _pid_path(state_dir, spec.name).unlink(missing_ok=True)
            if spec.probe():
                raise ServiceError(
                    f"{spec.name}: something else already answers at {spec.url}; "
                    "stop it or change the port in the inventory"
                )
            pid = _start(spec, state_dir)
            started.append(Started(spec, pid, fresh=True))
            log(f"{spec.name:<10} {spec.url:<24} pid {pid:<8} started")
            if spec.after_start is not None:
                spec.after_start(log)
    except Exception:
        # Leave nothing half-up: stop what this run started.
        for item in started:
            if item.fresh:
                stop_process(item.pid)
                _pid_path(state_dir, item.spec.name).unlink(missing_ok=True)
        raise
    if ctx.token_from_file:
        log(f"admin token: export ADMIN_TOKEN=$(cat {state_dir / TOKEN_FILE})")
    return started


def down(state_dir: Path, log: Callable[[str], None] = print) -> None:
    pid_files = sorted(state_dir.glob("*.pid")) if state_dir.is_dir() else []
    if not pid_files:
        log("nothing to stop")
        return
    for path in pid_files:
        record = _read_pid_file(path)
        name = path.stem
        if record is None or not _is_our_process(record):
            log(f"{name:<10} not running (stale pid file removed)")
        else:
            outcome = stop_process(int(record["pid"]))
            log(f"{name:<10} pid {record['pid']:<8} {outcome}")
        path.unlink(missing_ok=True)
