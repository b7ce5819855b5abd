"""Pydantic models of the admin API contract (docs/admin-api.md); they also drive /openapi.json."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    field_validator,
)

RoutingMode = Literal["hybrid", "mcp_only", "direct_only"]
HealthStatus = Literal["healthy", "degraded", "unhealthy"]
DeploymentStatus = Literal["in_progress", "succeeded", "failed"]

Timestamp = str  # ISO 8601 UTC, e.g. 2026-11-28T12:00:00Z


# Numbers in request bodies. JSON has one number type, and JSON Schema's "integer" is any number without a
# fraction, so 87.0 is the integer 87; but true/false and numeric strings are never numbers (pydantic's lax mode
# would take them: false as 0, "87" as 87), and NaN/Infinity (which Python's JSON parser lets through) neither.


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def json_int(**constraints: Any) -> Any:
    """A JSON integer with these Field constraints (ge, le, ...): 87 or 87.0; never true, "87" or 87.5.

    The constraints sit inside, before the validator that turns 87.0 into 87, so that they reach the JSON
    schema as minimum/maximum (a constraint outside a function validator would show up as a raw "ge")."""
    return Annotated[int, Strict(), Field(**constraints), BeforeValidator(_integral)]


# A finite JSON number (an integer or not), never true/false or a string; constraints go on the field.
JsonNumber = Annotated[float, Strict(), AllowInfNan(False)]


def _int_if_integral(value: float) -> int | float:
    return int(value) if value.is_integer() else value


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


SPLITS = [{"direct": direct, "mcp": 100 - direct} for direct in range(101)]


class Weights(RequestModel):
    """Percentages of the traffic on each path; they add up to 100 (`invalid_weights`, a 400, otherwise)."""

    # JSON Schema cannot add, so the sum is stated by listing the 101 valid splits.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"enum": SPLITS})

    direct: json_int(ge=0, le=100)
    mcp: json_int(ge=0, le=100)


class RoutingState(BaseModel):
    mode: RoutingMode
    weights: Weights


class RoutingDocument(RoutingState):
    effective: RoutingState
    updated_at: Timestamp | None
    updated_by: str | None


def _weights_of_mode(mode: str, weights: dict[str, int]) -> dict[str, Any]:
    return {"properties": {"mode": {"const": mode}, "weights": {"enum": [None, weights]}}}


class RoutingPut(RequestModel):
    """`weights` may be left out (or null): `hybrid` then keeps its last split, the others imply theirs. Given,
    they must add up to 100 (`invalid_weights`) and match a fixed mode (`weights_contradict_mode`), else a 400."""

    model_config = ConfigDict(
        extra="forbid",
        # The modes exclude one another, so anyOf says the same as oneOf (which schemathesis cannot generate from).
        json_schema_extra={
            "anyOf": [
                {"properties": {"mode": {"const": "hybrid"}}},
                _weights_of_mode("mcp_only", {"direct": 0, "mcp": 100}),
                _weights_of_mode("direct_only", {"direct": 100, "mcp": 0}),
            ]
        },
    )

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
    # May be fractional; a whole number stays an int (900.0 is stored and answered as 900).
    ttl_seconds: Annotated[JsonNumber, AfterValidator(_int_if_integral)] = Field(
        default=900, gt=0, le=7 * 24 * 3600, description="Seconds the lease lasts unless renewed; more than 0"
    )
    takeover: StrictBool = False
    controller: str | None = Field(default=None, max_length=255, description="Host the holding run runs on")
    pid: json_int(ge=1) | None = Field(default=None, description="Process id of the holding run on that host")
    replaces: str | None = Field(
        default=None, max_length=200,
        description="With takeover: the rollback id of the lease being taken over; 409 if the lease now held is "
        "another run's (it changed hands since it was read)",
    )


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


# Traffic (/v1/model-calls)


class ModelCall(RequestModel):
    model: str = Field(min_length=1, max_length=200, examples=["anthropic.claude-3-haiku"])
    prompt_tokens: json_int(ge=0) = 0


class ModelCallResult(BaseModel):
    path: Literal["direct", "mcp"] = Field(description="Where the call went: Bedrock directly, or through MCP")
    model: str
    release: str = Field(description="The release that served it (the current one)")
