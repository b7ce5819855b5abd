"""The service's CloudWatch metrics (docs/metrics.md), published by the sandbox from its own state.

A thread publishes, every `interval` seconds, the value of each metric the trigger rules read, with the
dimension Environment. Values are the healthy baseline unless an incident (fault knob `incident`) is active and
its cure does not hold yet: then the incident's metrics take their incident values. So a rollback that reaches
the right level makes the metrics recover, and one that stops short leaves them breaching.

On start the publisher writes an hour of healthy history (one point a minute), so that rules with long windows
have data at once; an incident with history_seconds writes its values over that past window as well. CloudWatch
keeps both, so a past period then holds healthy and incident points about evenly: incident values are severe
enough that such a mix still breaches every rule of its kind (the tests check this).
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .faults import FaultState, Incident
from .store import Store

NAMESPACE = "Matbakh/HybridRouting"
BASELINE_HISTORY_SECONDS = 3600
MAX_BACKFILL_POINTS = 600
BATCH = 500  # datapoints per PutMetricData call (the API allows 1000)

log = logging.getLogger("sandbox.metrics")

# name: (unit, healthy value)
BASELINE: dict[str, tuple[str, float]] = {
    "EmergencyOperationLatency": ("Seconds", 0.8),
    "CriticalOperationLatency": ("Seconds", 1.6),
    "ErrorRate": ("Percent", 0.4),
    "Availability": ("Percent", 99.95),
    "GDPRComplianceRate": ("Percent", 100.0),
    "SecurityScore": ("None", 96.0),
    "PIIDetectionFailureRate": ("Percent", 0.1),
    "AuditTrailIntegrityFailures": ("Count", 0.0),
    "CostAgainstBudget": ("Percent", 85.0),
    "CostSpike": ("Percent", 100.0),
}

# Incident values: severe enough that an even mix with the healthy baseline still breaches (module docstring).
LATENCY = {"EmergencyOperationLatency": 40.0, "CriticalOperationLatency": 80.0}
ERRORS = {"ErrorRate": 45.0}
OUTAGE = {"Availability": 60.0}
COST = {"CostAgainstBudget": 700.0, "CostSpike": 1500.0}
SECURITY = {"GDPRComplianceRate": 97.0, "SecurityScore": 40.0, "PIIDetectionFailureRate": 25.0,
            "AuditTrailIntegrityFailures": 1.0}


def _flags_off(state: dict[str, Any], _incident: Incident) -> bool:
    return not state["flags"].get("hybrid_routing", {}).get("enabled", False)


def _mcp_only(state: dict[str, Any], _incident: Incident) -> bool:
    return state["routing"]["effective"]["mode"] == "mcp_only"


def _reverted(state: dict[str, Any], incident: Incident) -> bool:
    return state["current"] != incident.bad_release


@dataclass(frozen=True)
class IncidentKindSpec:
    values: dict[str, float]
    cured: Callable[[dict[str, Any], Incident], bool]
    cure: str


# The runbook's matrix (docs/runbook.md): what each kind breaches, and the rollback that ends it.
KINDS: dict[str, IncidentKindSpec] = {
    "flag": IncidentKindSpec(LATENCY, _flags_off, "the hybrid_routing flag is off (Level 1)"),
    "routing": IncidentKindSpec(ERRORS, _mcp_only, "traffic is MCP-only (Level 2)"),
    "release": IncidentKindSpec(OUTAGE, _reverted, "the release at fault is reverted (Level 3)"),
    "cost": IncidentKindSpec(COST, _flags_off, "the hybrid_routing flag is off (Level 1)"),
    "cost_direct_path": IncidentKindSpec(COST, _mcp_only, "traffic is MCP-only: the cost is the direct path's"),
    "security": IncidentKindSpec(SECURITY, _mcp_only, "traffic is MCP-only (Level 2)"),
    "security_release": IncidentKindSpec(SECURITY, _reverted, "the release at fault is reverted (Level 3)"),
}


def current_values(state: dict[str, Any], incident: Incident | None) -> dict[str, float]:
    """Every metric's value for the service state: the baseline, or the incident's values while uncured."""
    values = {name: healthy for name, (_unit, healthy) in BASELINE.items()}
    if incident is not None:
        spec = KINDS[incident.kind]
        if not spec.cured(state, incident):
            values.update(spec.values)
    return values


def _datum(name: str, value: float, at: datetime.datetime, environment: str) -> dict[str, Any]:
    return {"MetricName": name, "Dimensions": [{"Name": "Environment", "Value": environment}],
            "Timestamp": at, "Value": value, "Unit": BASELINE[name][0]}


class MetricsPublisher:
    """Publishes the metrics of one environment on an interval, until stop()."""

    def __init__(self, store: Store, faults: FaultState, endpoint: str, region: str, environment: str,
                 interval: float):
        self.store = store
        self.faults = faults
        self.environment = environment
        self.interval = interval
        self._endpoint = endpoint
        self._region = region
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-publisher", daemon=True)
        self._seen_incident: Incident | None = None
        self.published = 0

    def _client(self) -> Any:
        import boto3  # lazily: the API alone does not need it
        from botocore.config import Config

        # moto accepts any credentials; these are placeholders, never real ones.
        session = boto3.session.Session(region_name=self._region, aws_access_key_id="sandbox",
                                        aws_secret_access_key="sandbox")
        return session.client("cloudwatch", endpoint_url=self._endpoint,
                              config=Config(retries={"mode": "standard", "max_attempts": 3}))

    def start(self) -> None:
        self.client = self._client()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _put(self, data: list[dict[str, Any]]) -> None:
        for offset in range(0, len(data), BATCH):
            self.client.put_metric_data(Namespace=NAMESPACE, MetricData=data[offset:offset + BATCH])
        self.published += len(data)

    def _backfill(self, values: dict[str, float], seconds: float, now: datetime.datetime) -> None:
        step = max(min(60.0, self.interval), seconds / MAX_BACKFILL_POINTS)
        data = []
        offset = step
        while offset <= seconds:
            at = now - datetime.timedelta(seconds=offset)
            data += [_datum(name, value, at, self.environment) for name, value in values.items()]
            offset += step
        self._put(data)

    def tick(self) -> dict[str, float]:
        """Publish the current values once (and an incident's history when one has just been set)."""
        now = datetime.datetime.now(datetime.UTC)
        incident = self.faults.config.incident
        state = self.store.health_snapshot()
        if incident is not None and incident is not self._seen_incident:
            if incident.bad_release is None and incident.kind in ("release", "security_release"):
                incident.bad_release = state["current"]
            if incident.history_seconds:
                self._backfill(KINDS[incident.kind].values, incident.history_seconds, now)
        self._seen_incident = incident
        values = current_values(state, incident)
        self._put([_datum(name, value, now, self.environment) for name, value in values.items()])
        return values

    def _run(self) -> None:
        try:
            self._backfill({name: healthy for name, (_unit, healthy) in BASELINE.items()},
                           BASELINE_HISTORY_SECONDS, datetime.datetime.now(datetime.UTC))
        except Exception as exc:
            log.error("metrics: healthy history not published: %s", exc)
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:
                log.error("metrics: publishing failed: %s", exc)
            self._stop.wait(self.interval)
