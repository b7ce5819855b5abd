from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float | None) -> str | None:
    """Render an epoch timestamp as ISO 8601 UTC with whole seconds, as the contract shows."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
