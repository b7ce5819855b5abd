"""/admin/*: the production contract (feature flags, routing, releases, rollback lock, rollback snapshot)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response, Security
from fastapi.security import HTTPBearer

from ..errors import ApiError
from ..models import (
    Deployment,
    DeploymentEnvelope,
    FlagDocument,
    FlagPut,
    FlagsDocument,
    FlagsPatch,
    LockGrant,
    LockRelease,
    LockRequest,
    LockState,
    ReleasesDocument,
    RollbackRequest,
    RollbackSnapshotDocument,
    RollbackSnapshotPut,
    RoutingDocument,
    RoutingPut,
    SnapshotDeleted,
    SnapshotExists,
)
from .deps import FaultsDep, RollbackIdHeader, StoreDep, errors, note_change, optional_header

# Enforcement happens in AdminAuthMiddleware (so unknown /admin paths are 401 too); this documents it.
bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <token>")

router = APIRouter(prefix="/admin", dependencies=[Security(bearer)], responses=errors(401))

FlagName = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/feature-flags", response_model=FlagsDocument, tags=["feature flags"])
def get_flags(store: StoreDep) -> dict:
    return {"flags": store.flags()}


@router.patch("/feature-flags", response_model=FlagsDocument, responses=errors(422), tags=["feature flags"])
def patch_flags(body: FlagsPatch, store: StoreDep, rollback_id: RollbackIdHeader = None) -> dict:
    """Set several flags atomically: unknown names are a 422 `unknown_flags` and nothing changes."""
    return {"flags": store.patch_flags(body.flags, rollback_id)}


@router.put("/feature-flags/{name}", response_model=FlagDocument, responses=errors(404, 422), tags=["feature flags"])
def put_flag(name: FlagName, body: FlagPut, store: StoreDep, rollback_id: RollbackIdHeader = None) -> dict:
    return store.set_flag(name, body.enabled, rollback_id)


@router.get("/routing", response_model=RoutingDocument, tags=["routing"])
def get_routing(store: StoreDep) -> dict:
    return store.routing()


@router.put("/routing", response_model=RoutingDocument, responses=errors(400, 422), tags=["routing"])
def put_routing(body: RoutingPut, store: StoreDep, faults: FaultsDep, rollback_id: RollbackIdHeader = None) -> dict:
    weights = body.weights.model_dump() if body.weights else None
    return store.set_routing(body.mode, weights, rollback_id, faults.config.routing_converge_seconds)


@router.get("/releases", response_model=ReleasesDocument, tags=["releases"])
def get_releases(store: StoreDep) -> dict:
    return store.releases()


@router.post(
    "/releases/rollback",
    status_code=202,
    response_model=DeploymentEnvelope,
    responses={200: {"model": DeploymentEnvelope, "description": "Idempotency-Key replay"}, **errors(404, 409, 422)},
    tags=["releases"],
)
def rollback(
    request: Request,
    response: Response,
    store: StoreDep,
    faults: FaultsDep,
    body: Annotated[RollbackRequest | None, Body()] = None,
    rollback_id: RollbackIdHeader = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=200),
        optional_header(minLength=1, maxLength=200),
    ] = None,
) -> dict:
    """Roll back to `target` (default: the release before `current`). A repeated Idempotency-Key returns the
    deployment it created first (200) and starts nothing."""
    config = faults.config
    target = body.target if body else None
    deployment, created = store.rollback(
        target, idempotency_key, rollback_id, config.deploy_seconds, config.deploy_fail
    )
    if not created:
        response.status_code = 200
    note_change(request, deployment_id=deployment["id"], replayed=not created)
    return {"deployment": deployment}


@router.get("/deployments/{deployment_id}", response_model=Deployment, responses=errors(404, 422), tags=["releases"])
def get_deployment(deployment_id: Annotated[str, Path(min_length=1, max_length=200)], store: StoreDep) -> dict:
    return store.deployment(deployment_id)


@router.get("/locks/rollback", response_model=LockState, response_model_exclude_unset=True, tags=["rollback lock"])
def get_lock(store: StoreDep) -> dict:
    return store.lock()


@router.post(
    "/locks/rollback",
    status_code=201,
    response_model=LockGrant,
    response_model_exclude_unset=True,
    responses={200: {"model": LockGrant, "description": "renewed by the same holder"}, **errors(409, 422)},
    tags=["rollback lock"],
)
def acquire_lock(
    request: Request, response: Response, body: LockRequest, store: StoreDep, rollback_id: RollbackIdHeader = None
) -> dict:
    grant, status = store.acquire_lock(
        body.holder, body.reason, body.ttl_seconds, body.takeover, rollback_id, body.controller, body.pid,
        body.replaces,
    )
    response.status_code = status
    if grant.get("taken_over"):
        note_change(request, taken_over=True, previous_holder=grant["previous"]["holder"])
    return grant


@router.delete("/locks/rollback", response_model=LockRelease, responses=errors(409, 422), tags=["rollback lock"])
def release_lock(
    holder: Annotated[str, Query(min_length=1, max_length=200)], store: StoreDep, rollback_id: RollbackIdHeader = None
) -> dict:
    return {"released": store.release_lock(holder)}


# Rollback snapshot: stored, read and deleted; none of this is a rollback action (the incident clock ignores it).

IfNoneMatch = Annotated[
    str | None,
    # White space around the star is not part of the value (RFC 9110 5.5: HTTP strips it), hence enum ["*"].
    Header(
        alias="If-None-Match",
        pattern=r"^[ \t]*\*[ \t]*$",
        description="`*`: create only; if a snapshot exists, answer 412 and change nothing. Any other value "
        "(an ETag: there are none here) is a 422",
    ),
    optional_header(enum=["*"]),
]


@router.get(
    "/rollback/snapshot", response_model=RollbackSnapshotDocument, responses=errors(404), tags=["rollback snapshot"]
)
def get_snapshot(store: StoreDep) -> dict:
    """The state of the service before the first rollback of the incident, as a controller stored it."""
    document = store.rollback_snapshot()
    if document is None:
        raise ApiError(404, "no_snapshot", "no rollback snapshot is stored")
    return document


@router.put(
    "/rollback/snapshot",
    status_code=201,
    response_model=RollbackSnapshotDocument,
    responses={
        200: {"model": RollbackSnapshotDocument, "description": "replaced (without If-None-Match)"},
        412: {"model": SnapshotExists, "description": "If-None-Match: * and a snapshot exists; nothing changed"},
        **errors(422),
    },
    tags=["rollback snapshot"],
)
def put_snapshot(
    response: Response,
    body: RollbackSnapshotPut,
    store: StoreDep,
    rollback_id: RollbackIdHeader = None,
    if_none_match: IfNoneMatch = None,
) -> dict:
    """Store the snapshot: 201 created, 200 replaced. With `If-None-Match: *` it only creates, so the first
    controller of an incident wins and later ones get the stored snapshot in the 412."""
    document, status = store.put_rollback_snapshot(body.snapshot, rollback_id, create_only=if_none_match is not None)
    response.status_code = status
    return document


@router.delete(
    "/rollback/snapshot", response_model=SnapshotDeleted, response_model_exclude_unset=True, tags=["rollback snapshot"]
)
def delete_snapshot(store: StoreDep) -> dict:
    deleted = store.delete_rollback_snapshot()
    return {"deleted": False} if deleted is None else {"deleted": True, "snapshot": deleted}
