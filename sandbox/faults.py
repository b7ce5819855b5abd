"""Fault injection: runtime knobs and per-path rules (latency, errors, hangs, dropped connections)."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, field_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from .asgi import buffer_request
from .models import HealthStatus, JsonNumber, json_int

# Scope extension set by server.DroppableH11Protocol: an async callable that closes the TCP connection.
DROP_EXTENSION = "sandbox.drop_connection"
UNFAULTED_PREFIX = "/_sandbox"
REQUEST_TIMES_KEPT = 20000


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(pattern="^/", description="Path prefix the rule applies to, e.g. /admin/feature-flags")
    method: str = Field(default="*", description="HTTP method, or * for any")
    # Numeric knobs are strict (models.json_int, models.JsonNumber): false is not 0, "5" is not 5.
    latency_ms: JsonNumber = Field(default=0, ge=0, le=600_000)
    error_rate: JsonNumber = Field(default=0.0, ge=0.0, le=1.0)
    error_status: json_int(ge=400, le=599) = 503
    retry_after: json_int(ge=0) | None = Field(default=None, description="Seconds; sets Retry-After on injected errors")
    timeout_seconds: JsonNumber | None = Field(
        default=None, ge=0, le=3600, description="Hang this long before answering"
    )
    drop: StrictBool = Field(default=False, description="Close the TCP connection without any HTTP response")
    count: json_int(ge=1) | None = Field(default=None, description="Apply to the next N matching requests only")
    for_seconds: JsonNumber | None = Field(
        default=None, gt=0, le=86_400, description="Apply for N seconds after the rule was set, then remove it"
    )
    # Monotonic time at which a for_seconds rule lapses; set by FaultState when the rule is installed.
    _expires_at: float | None = PrivateAttr(default=None)

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path) and self.method in ("*", method.upper())


IncidentKind = Literal["flag", "routing", "release", "cost", "cost_direct_path", "security", "security_release"]


class Incident(BaseModel):
    """A simulated incident: the metrics the sandbox publishes to CloudWatch breach until its cure holds
    (docs/metrics.md, "Incidents in the sandbox")."""

    model_config = ConfigDict(extra="forbid")

    kind: IncidentKind = Field(description="What breaches and what cures it (flags off, MCP-only, release reverted)")
    history_seconds: json_int(ge=0, le=86_400) = Field(
        default=0,
        description="Publish the incident's values over this many past seconds at once, as if it began that long ago",
    )
    bad_release: str | None = Field(
        default=None, description="release/security_release kinds: the release at fault (default: the current one)"
    )


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recover_after_seconds: JsonNumber | None = Field(
        default=None, ge=0, description="/health is unhealthy until N s after the latest rollback action"
    )
    health_status: HealthStatus | None = Field(default=None, description="Force the /health verdict")
    routing_converge_seconds: JsonNumber = Field(default=0, ge=0, le=3600)
    deploy_seconds: JsonNumber = Field(default=1.0, ge=0, le=3600)
    deploy_fail: StrictBool = False
    incident: Incident | None = Field(default=None, description="A simulated incident (needs --cloudwatch-endpoint)")
    rules: list[FaultRule] = []


class FaultConfigPatch(FaultConfig):
    """PATCH /_sandbox/faults: same shape, but only the keys present replace the live values (rules as a whole)."""


class FaultState:
    """The live fault configuration. Mutated only on the event loop (the middleware and the async
    /_sandbox/faults endpoints), so no locking is needed; endpoint threads only read `config`."""

    def __init__(
        self,
        config: FaultConfig | None = None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rng = rng
        self._clock = clock
        # Every request a client sent (faulted or not, /_sandbox/* aside), by "METHOD /path": what a rollback costs.
        self.requests: Counter[str] = Counter()
        # When each of them arrived (epoch seconds, the latest REQUEST_TIMES_KEPT): a cap on requests per second is
        # checked against these, across the ports of one process.
        self.request_times: deque[float] = deque(maxlen=REQUEST_TIMES_KEPT)
        # How many of them a rule answered with an error, a drop or a hang: the retries the clients had to make.
        self.injected = 0
        self.replace(config or FaultConfig())

    def _install(self, rules: list[FaultRule]) -> None:
        """Start the clock of every for_seconds rule: it runs from the moment the rule is set."""
        now = self._clock()
        for rule in rules:
            rule._expires_at = None if rule.for_seconds is None else now + rule.for_seconds

    def replace(self, config: FaultConfig) -> None:
        self._install(config.rules)
        self.config = config

    def patch(self, patch: FaultConfigPatch) -> None:
        given = patch.model_dump(exclude_unset=True)
        config = FaultConfig.model_validate(self.config.model_dump() | given)
        if "rules" in given:
            self._install(config.rules)
        else:
            config.rules = self.config.rules  # the live rules keep their clocks and counts
        if "incident" not in given:
            config.incident = self.config.incident  # the same incident: its history is not published again
        self.config = config

    def purge(self) -> FaultConfig:
        """Drop the for_seconds rules whose time is up; returns the live configuration."""
        now = self._clock()
        self.config.rules = [rule for rule in self.config.rules if rule._expires_at is None or now < rule._expires_at]
        return self.config

    def take_rule(self, method: str, path: str) -> FaultRule | None:
        """First matching rule (a copy), consuming one use of a counted rule; lapsed rules are removed first."""
        for rule in self.purge().rules:
            if not rule.matches(method, path):
                continue
            taken = rule.model_copy()
            if rule.count is not None:
                rule.count -= 1
                if rule.count == 0:
                    self.config.rules.remove(rule)
            return taken
        return None

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._rng() < rate


class ConnectionDropUnsupported(RuntimeError):
    """The server in use cannot drop connections (only `python -m sandbox api` can)."""


async def _send_injected_error(send: Send, rule: FaultRule) -> None:
    body = json.dumps(
        {"error": "injected_fault", "detail": f"sandbox fault rule for {rule.path} ({rule.error_status})"}
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if rule.retry_after is not None:
        headers.append((b"retry-after", str(math.ceil(rule.retry_after)).encode()))
    await send({"type": "http.response.start", "status": rule.error_status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


class FaultMiddleware:
    """Outermost middleware: faults act before auth, state and the change log, like a broken load balancer."""

    def __init__(self, app: ASGIApp, faults: FaultState) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNFAULTED_PREFIX):
            await self.app(scope, receive, send)
            return
        self.faults.requests[f"{scope['method']} {scope['path']}"] += 1
        self.faults.request_times.append(time.time())
        rule = self.faults.take_rule(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000)
        if rule.drop:
            self.faults.injected += 1
            drop: Callable[[], Awaitable[None]] | None = (scope.get("extensions") or {}).get(DROP_EXTENSION)
            if drop is None:
                raise ConnectionDropUnsupported("drop faults need the sandbox server (python -m sandbox api)")
            await drop()
            return
        if rule.timeout_seconds:
            # After the hang the request is served normally: the client has given up, but the write happens,
            # which is exactly the case idempotency keys exist for. So the body is read before hanging.
            _body, receive = await buffer_request(receive)
            self.faults.injected += 1
            await asyncio.sleep(rule.timeout_seconds)
        if self.faults.roll(rule.error_rate):
            self.faults.injected += 1
            await _send_injected_error(send, rule)
            return
        await self.app(scope, receive, send)
