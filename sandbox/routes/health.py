"""/health*: no token (load balancers and the preflight call it)."""

from __future__ import annotations

from fastapi import APIRouter

from ..health import compute_flags_health, compute_health
from ..models import FlagsHealth, HealthDocument
from .deps import FaultsDep, StoreDep

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthDocument, response_model_exclude_none=True)
def health(store: StoreDep, faults: FaultsDep) -> dict:
    """Always 200 while the API answers; the verdict is `status`, the worst of the checks."""
    return compute_health(store, faults.config)


@router.get("/health/feature-flags", response_model=FlagsHealth)
def flags_health(store: StoreDep) -> dict:
    return compute_flags_health(store)
