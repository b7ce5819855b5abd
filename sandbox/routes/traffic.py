"""/v1/model-calls: the service's public path, so load tests can send steady traffic while rollbacks run.

No token (it is not the admin API), counted in /_sandbox/requests and faulted like every other path, never in the
change log (it changes nothing)."""

from __future__ import annotations

import random
from typing import Any

from fastapi import APIRouter

from ..models import ModelCall, ModelCallResult
from .deps import StoreDep, errors

router = APIRouter(prefix="/v1", tags=["traffic"])

# The direct path needs both flags on; Level 1 of a rollback turns them off.
DIRECT_FLAGS = ("hybrid_routing", "direct_bedrock")


def choose_path(flags: dict[str, bool], effective: dict[str, Any], draw: float) -> str:
    """`mcp` unless the direct flags are on (a flag the service lacks counts as off) and the effective routing
    sends this call direct: with `draw` uniform in [0, 1), direct for draw < direct weight / 100."""
    if not all(flags.get(name, False) for name in DIRECT_FLAGS) or effective["mode"] == "mcp_only":
        return "mcp"
    return "direct" if draw * 100 < effective["weights"]["direct"] else "mcp"


@router.post("/model-calls", response_model=ModelCallResult, responses=errors(422))
def model_call(body: ModelCall, store: StoreDep) -> dict:
    """Route one model call as the live state says: always `mcp` while `hybrid_routing` or `direct_bedrock` is off
    or the effective routing is `mcp_only`, else `direct` or `mcp` drawn by the effective weights."""
    state = store.traffic_state()
    path = choose_path(state["flags"], state["effective"], random.random())
    return {"path": path, "model": body.model, "release": state["release"]}
