"""/health*: no token (load balancers and the preflight call it)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query

from ..health import compute_flags_health, compute_health
from ..models import FlagsHealth, HealthDocument, HealthStatus
from .deps import FaultsDep, StoreDep, errors

router = APIRouter(tags=["health"])

# A held health request (docs/admin-api.md) is answered after at most HOLD_MAX seconds, and looks again every
# HOLD_STEP seconds: a recovery is seen within a quarter of a second by a client that sent one request.
HOLD_MAX = 30.0
HOLD_STEP = 0.25


HoldFor = Annotated[list[HealthStatus] | None,
                    Query(description="Hold the answer until the status is one of these (repeat for several)")]
HoldSeconds = Annotated[float, Query(ge=0, le=HOLD_MAX, description="Hold it at most this long")]


@router.get("/health", response_model=HealthDocument, response_model_exclude_none=True, responses=errors(422))
async def health(store: StoreDep, faults: FaultsDep, wait_for: HoldFor = None, wait_seconds: HoldSeconds = 0) -> dict:
    """Always 200 while the API answers; the verdict is `status`, the worst of the checks.

    With `wait_for` and `wait_seconds` the answer is held until the status is one of `wait_for`, or `wait_seconds`
    have passed, and then is the health at that moment: one request instead of a poll every half second."""
    document = compute_health(store, faults.config)
    if not wait_for or wait_seconds <= 0:
        return document
    deadline = time.monotonic() + wait_seconds
    while document["status"] not in wait_for:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        await asyncio.sleep(min(HOLD_STEP, left))
        document = compute_health(store, faults.config)
    return document


@router.get("/health/feature-flags", response_model=FlagsHealth)
def flags_health(store: StoreDep) -> dict:
    return compute_flags_health(store)
