"""Validation of desired routing (mode + weights), shared by the API and the seed file."""

from __future__ import annotations

from .errors import ApiError

FIXED_WEIGHTS = {"mcp_only": {"direct": 0, "mcp": 100}, "direct_only": {"direct": 100, "mcp": 0}}


def resolve_weights(mode: str, weights: dict[str, int] | None, hybrid_default: dict[str, int]) -> dict[str, int]:
    """Return the weights implied by `mode`; raise a 400 ApiError when they do not add up or contradict it.

    `hybrid` without weights keeps `hybrid_default` (the last hybrid split), so switching
    mcp_only -> hybrid restores the split that was in force before.
    """
    if weights is not None and weights["direct"] + weights["mcp"] != 100:
        raise ApiError(400, "invalid_weights", f"weights must sum to 100, got {weights['direct'] + weights['mcp']}")
    if mode in FIXED_WEIGHTS:
        fixed = FIXED_WEIGHTS[mode]
        if weights is not None and weights != fixed:
            raise ApiError(400, "weights_contradict_mode", f"mode {mode} implies weights {fixed}, got {weights}")
        return dict(fixed)
    return dict(weights if weights is not None else hybrid_default)
