"""Health verdicts computed from the stored state and the fault knobs."""

from __future__ import annotations

from typing import Any

from .faults import FaultConfig
from .store import Store
from .timeutil import iso

SEVERITY = {"healthy": 0, "degraded": 1, "unhealthy": 2}


def _check(status: str, detail: str | None = None) -> dict[str, Any]:
    return {"status": status, "detail": detail}


def _routing_check(routing: dict[str, Any]) -> dict[str, Any]:
    desired = {"mode": routing["mode"], "weights": routing["weights"]}
    if routing["effective"] == desired:
        return _check("healthy", "effective mode matches desired")
    eff = routing["effective"]
    return _check(
        "degraded",
        f"converging: effective {eff['mode']} {eff['weights']}, desired {desired['mode']} {desired['weights']}",
    )


def _release_check(current: str, last: dict[str, Any] | None) -> dict[str, Any]:
    if last is not None and last["status"] == "in_progress":
        return _check("degraded", f"deployment {last['id']} in progress: {last['from']} -> {last['to']}")
    if last is not None and last["status"] == "failed":
        return _check("unhealthy", f"deployment {last['id']} to {last['to']} failed; running {current}")
    return _check("healthy", current)


def _incident_check(recover_after: float, last_action: float | None, now: float) -> dict[str, Any]:
    if last_action is None:
        return _check("unhealthy", "incident ongoing: no rollback action yet")
    remaining = last_action + recover_after - now
    if remaining > 0:
        return _check("unhealthy", f"recovering: {remaining:.1f}s after the rollback action at {iso(last_action)}")
    return _check("healthy", f"recovered after the rollback action at {iso(last_action)}")


def compute_health(store: Store, faults: FaultConfig) -> dict[str, Any]:
    snap = store.health_snapshot()
    enabled = sum(flag["enabled"] for flag in snap["flags"].values())
    checks = {
        "api": _check("healthy"),
        "feature_flags": _check("healthy", f"{enabled} of {len(snap['flags'])} enabled"),
        "routing": _routing_check(snap["routing"]),
        "release": _release_check(snap["current"], snap["last_deployment"]),
    }
    if faults.recover_after_seconds is not None:
        checks["incident"] = _incident_check(faults.recover_after_seconds, snap["last_rollback_action_at"], store.now())
    status = max((check["status"] for check in checks.values()), key=SEVERITY.__getitem__)
    if faults.health_status is not None:
        checks["override"] = _check(faults.health_status, "forced by the sandbox health_status fault")
        status = faults.health_status
    return {"status": status, "checks": checks, "time": iso(store.now())}


def compute_flags_health(store: Store) -> dict[str, Any]:
    flags = store.flags()
    return {
        "status": "healthy",
        "flags_total": len(flags),
        "enabled": [name for name, flag in flags.items() if flag["enabled"]],
    }
