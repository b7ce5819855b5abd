"""/_sandbox/*: sandbox-only endpoints (change log, faults, reset). No token, never faulted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ..faults import FaultConfig, FaultConfigPatch
from ..models import ChangeLog, ResetResult
from .deps import FaultsDep, StoreDep, errors

router = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@router.get("/changes", response_model=ChangeLog, responses=errors(422))
def changes(store: StoreDep, since: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0) -> dict:
    entries, last_seq = store.changes(since)
    return {"changes": entries, "last_seq": last_seq}


# The fault endpoints are async so that they run on the event loop, like the fault middleware.
@router.get("/faults", response_model=FaultConfig)
async def get_faults(faults: FaultsDep) -> FaultConfig:
    return faults.purge()


@router.put("/faults", response_model=FaultConfig, responses=errors(422))
async def put_faults(body: FaultConfig, faults: FaultsDep) -> FaultConfig:
    """Replace the whole fault configuration (keys left out go back to their defaults)."""
    faults.replace(body)
    return faults.config


@router.patch("/faults", response_model=FaultConfig, responses=errors(422))
async def patch_faults(body: FaultConfigPatch, faults: FaultsDep) -> FaultConfig:
    """Replace only the keys given."""
    faults.patch(body)
    return faults.config


@router.get("/requests")
async def requests_seen(faults: FaultsDep) -> dict:
    """Every request a client sent since the start or the last reset (faulted ones too; /_sandbox/* aside), and
    how many of them got an injected fault instead of a normal answer (an error, a dropped connection or a hang)."""
    return {"total": sum(faults.requests.values()), "by_route": dict(sorted(faults.requests.items())),
            "injected": faults.injected, "times": list(faults.request_times)}


@router.post("/reset", response_model=ResetResult)
async def reset(request: Request, store: StoreDep, faults: FaultsDep) -> dict:
    """Back to the seed state the server was started with; clears the change log (seqs keep growing) and the
    request count."""
    store.reset(request.app.state.seed)
    faults.requests.clear()
    faults.request_times.clear()
    faults.injected = 0
    return {"reset": True}
