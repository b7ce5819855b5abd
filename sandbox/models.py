"""Pydantic models of the admin API contract (docs/admin-api.md); they also drive /openapi.json."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

RoutingMode = Literal["hybrid", "mcp_only", "direct_only"]
HealthStatus = Literal["healthy", "degraded", "unhealthy"]
DeploymentStatus = Literal["in_progress", "succeeded", "failed"]

Timestamp = str  # ISO 8601 UTC, e.g. 2026-11-28T12:00:00Z


class RequestModel(BaseModel):
    # Unknown keys are rejected so that a typo (e.g. "takover") is a 422 rather than silently ignored.
    model_config = ConfigDict(extra="forbid")


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    error: str = Field(examples=["lock_held"])
    detail: str


# Feature flags


class Flag(BaseModel):
    enabled: bool
    description: str
    updated_at: Timestamp | None
    updated_by: str | None


class FlagDocument(Flag):
    name: str


class FlagsDocument(BaseModel):
    flags: dict[str, Flag]


class FlagsPatch(RequestModel):
    flags: dict[str, StrictBool] = Field(examples=[{"hybrid_routing": False, "direct_bedrock": False}])


class FlagPut(RequestModel):
    enabled: StrictBool


class FlagsHealth(BaseModel):
    status: HealthStatus
    flags_total: int
    enabled: list[str]


# Routing


class Weights(RequestModel):
    direct: StrictInt = Field(ge=0, le=100)
    mcp: StrictInt = Field(ge=0, le=100)


class RoutingState(BaseModel):
    mode: RoutingMode
    weights: Weights


class RoutingDocument(RoutingState):
    effective: RoutingState
    updated_at: Timestamp | None
    updated_by: str | None


class RoutingPut(RequestModel):
    mode: RoutingMode
    weights: Weights | None = None


# Releases and deployments


class Deployment(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    action: Literal["deploy", "rollback"]
    status: DeploymentStatus
    from_: str | None = Field(alias="from")
    to: str
    started_at: Timestamp
    finished_at: Timestamp | None
    rollback_id: str | None
    idempotency_key: str | None


class HistoryEntry(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    deployment_id: str
    action: Literal["deploy", "rollback"]
    from_: str | None = Field(alias="from")
    to: str
    status: DeploymentStatus
    started_at: Timestamp
    finished_at: Timestamp | None
    rollback_id: str | None
    idempotency_key: str | None


class ReleasesDocument(BaseModel):
    current: str
    previous: str | None
    available: list[str]
    deployment: Deployment | None
    history: list[HistoryEntry]


class RollbackRequest(RequestModel):
    target: str | None = Field(default=None, min_length=1, description="Release to roll back to; default: previous")


class DeploymentEnvelope(BaseModel):
    deployment: Deployment


# Rollback lock


class Lease(BaseModel):
    holder: str
    reason: str
    rollback_id: str | None
    controller: str | None = None
    pid: int | None = None
    acquired_at: Timestamp
    expires_at: Timestamp
    ttl_seconds: int | float


class LockState(BaseModel):
    """`{"held": true, ...lease}`, `{"held": false}` or `{"held": false, "expired": {...}}`."""

    held: bool
    holder: str | None = None
    reason: str | None = None
    rollback_id: str | None = None
    controller: str | None = None
    pid: int | None = None
    acquired_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    ttl_seconds: int | float | None = None
    expired: Lease | None = None


class LockRequest(RequestModel):
    holder: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)
    ttl_seconds: int | float = Field(default=900, gt=0, le=7 * 24 * 3600)
    takeover: StrictBool = False
    controller: str | None = Field(default=None, max_length=255, description="Host the holding run runs on")
    pid: StrictInt | None = Field(default=None, ge=1, description="Process id of the holding run on that host")


class LockGrant(BaseModel):
    lock: Lease
    previous: Lease | None
    taken_over: bool | None = None


class LockRelease(BaseModel):
    released: bool


# Rollback snapshot


class RollbackSnapshotPut(RequestModel):
    snapshot: dict[str, Any] = Field(
        description="Any JSON object: the state of the service before the first rollback of the incident",
        examples=[{"feature_flags": {"hybrid_routing": True}, "routing": {"mode": "hybrid"}}],
    )

    @field_validator("snapshot")
    @classmethod
    def _finite_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Python's JSON parser accepts NaN and Infinity; stored, they would make every later GET fail.
        try:
            json.dumps(value, allow_nan=False)
        except ValueError as exc:
            raise ValueError("must be plain JSON (no NaN or Infinity)") from exc
        return value


class RollbackSnapshotDocument(BaseModel):
    snapshot: dict[str, Any]
    stored_at: Timestamp
    stored_by: str | None = Field(description="X-Rollback-Id of the request that stored it")


class SnapshotExists(ErrorResponse):
    """412 of a create-only PUT (`If-None-Match: *`): the snapshot already stored, unchanged."""

    snapshot: RollbackSnapshotDocument


class SnapshotDeleted(BaseModel):
    """`{"deleted": true, "snapshot": {...}}` or `{"deleted": false}`."""

    deleted: bool
    snapshot: RollbackSnapshotDocument | None = None


# Health


class Check(BaseModel):
    status: HealthStatus
    detail: str | None = None


class HealthDocument(BaseModel):
    status: HealthStatus
    checks: dict[str, Check]
    time: Timestamp


# Sandbox-only


class Change(BaseModel):
    seq: int
    at: Timestamp
    method: str
    path: str
    query: str | None
    rollback_id: str | None
    idempotency_key: str | None
    status: int
    body: object | None
    result: dict | None = Field(description="Notable outcome, e.g. {'taken_over': true} or {'deployment_id': ...}")


class ChangeLog(BaseModel):
    changes: list[Change]
    last_seq: int


class ResetResult(BaseModel):
    reset: bool
