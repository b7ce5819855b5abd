"""Drive modules' main() with arguments and a fake admin API in place of the HTTP transport."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils import _admin_api
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import ConflictError

CONNECTION = {"api_base": "http://127.0.0.1:9", "admin_token": "unit-token-XYZ"}


class FakeAdminAPI:
    """In-memory stand-in with the AdminAPI surface; records writes."""

    instances: list[FakeAdminAPI] = []
    stored: dict[str, Any] | None = None  # the service-side snapshot, shared across module runs of one test

    def __init__(self, api_base: str, admin_token: str, **kwargs: Any):
        self.writes: list[tuple[str, Any]] = []
        self.state = FakeAdminAPI.seed()
        self.health_script: list[Any] = []
        self.http = SimpleNamespace(base_url=api_base)
        self.waits: list[float | None] = []  # what each poll was allowed to wait for its answer
        self.holds: list[tuple[list[str] | None, float]] = []  # what each health poll asked the service to hold
        self.read_errors: dict[str, list[Exception | None]] = {}  # per read ("routing", "deployment"), raised first
        FakeAdminAPI.instances.append(self)

    @staticmethod
    def seed() -> dict[str, Any]:
        return {
            "flags": {"hybrid_routing": True, "direct_bedrock": True, "pii_redaction": True},
            "routing": {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}},
            "releases": {"current": "r3", "previous": "r2", "available": ["r1", "r2", "r3"], "history": [{"x": 1}],
                         "deployment": None},
            "lock": {"held": False},
        }

    def health(self, wait: float | None = None, hold_for: list[str] | None = None,
               hold_seconds: float = 0.0) -> Any:
        self.waits.append(wait)
        self.holds.append((hold_for, hold_seconds))
        if self.health_script:
            item = self.health_script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        return {"status": "healthy", "checks": {"api": {"status": "healthy"}}}

    def flags(self) -> dict[str, bool]:
        return dict(self.state["flags"])

    def set_flags(self, flags: dict[str, bool]) -> dict[str, Any]:
        self.writes.append(("set_flags", flags))
        self.state["flags"].update(flags)
        return self.flags()

    def _read(self, name: str, wait: float | None) -> None:
        self.waits.append(wait)
        if self.read_errors.get(name):
            error = self.read_errors[name].pop(0)
            if error is not None:  # None lets one read through
                raise error

    def routing(self, wait: float | None = None) -> dict[str, Any]:
        self._read("routing", wait)
        doc = dict(self.state["routing"])
        lag = self.state.get("routing_lag", 0)
        if lag:
            self.state["routing_lag"] = lag - 1
        else:
            doc["effective"] = {"mode": doc["mode"], "weights": doc["weights"]}
        doc.setdefault("effective", {"mode": "hybrid", "weights": {"direct": 70, "mcp": 30}})
        return doc

    def set_routing(self, mode: str, weights: dict[str, int] | None = None) -> dict[str, Any]:
        self.writes.append(("set_routing", mode, weights))
        fixed = {"mcp_only": {"direct": 0, "mcp": 100}, "direct_only": {"direct": 100, "mcp": 0}}
        self.state["routing"] = {"mode": mode, "weights": fixed.get(mode) or weights or {"direct": 70, "mcp": 30}}
        return self.routing()

    def start_release_rollback(self, target: str | None, idempotency_key: str) -> dict[str, Any]:
        self.writes.append(("release", target, idempotency_key))
        deployment = {"id": "d-1", "status": "in_progress", "from": self.state["releases"]["current"], "to": target,
                      "idempotency_key": idempotency_key, "started_at": "T"}
        self.state["deployments"] = {"d-1": deployment}
        return dict(deployment)

    def deployment(self, deployment_id: str, wait: float | None = None) -> dict[str, Any]:
        self._read("deployment", wait)
        deployment = self.state["deployments"][deployment_id]
        if deployment["status"] == "in_progress":
            deployment["status"] = self.state.get("deploy_outcome", "succeeded")
            if deployment["status"] == "succeeded":
                self.state["releases"].update(current=deployment["to"], previous="r1")
        return dict(deployment)

    def releases(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.state["releases"]))

    def snapshot(self) -> dict[str, Any] | None:
        return json.loads(json.dumps(FakeAdminAPI.stored)) if FakeAdminAPI.stored else None

    def store_snapshot(self, snapshot: dict[str, Any], create_only: bool) -> tuple[bool, dict[str, Any]]:
        if create_only and FakeAdminAPI.stored:
            return False, self.snapshot()
        self.writes.append(("store_snapshot", snapshot.get("rollback_id")))
        FakeAdminAPI.stored = {"snapshot": json.loads(json.dumps(snapshot)), "stored_at": "T"}
        return True, self.snapshot()

    def delete_snapshot(self) -> dict[str, Any]:
        self.writes.append(("delete_snapshot", None))
        stored, FakeAdminAPI.stored = FakeAdminAPI.stored, None
        return {"deleted": bool(stored), "snapshot": stored}

    def lock(self) -> dict[str, Any]:
        return dict(self.state["lock"])

    def acquire_lock(self, holder: str, reason: str, ttl_seconds: int, takeover: bool,
                     controller: str | None = None, pid: int | None = None,
                     replaces: str | None = None) -> dict[str, Any]:
        # The service's rules: a lease of another holder, or of another run, needs takeover; a takeover must name
        # the lease it replaces. "lock_after_read" is a lease another run took between the module's read and write.
        current = self.state.pop("lock_after_read", None) or self.state["lock"]
        self.acquired_with = {"takeover": takeover, "replaces": replaces}
        if current.get("held") and not takeover and (current.get("holder") != holder
                                                     or current.get("rollback_id")):
            raise ConflictError("409", status=409, body={"error": "lock_held", "lock": current})
        if current.get("held") and takeover and replaces is not None and current.get("rollback_id") != replaces:
            raise ConflictError("409", status=409, body={"error": "lock_held", "lock": current})
        self.writes.append(("acquire_lock", holder))
        self.state["lock"] = {"held": True, "holder": holder, "reason": reason, "ttl_seconds": ttl_seconds,
                              "controller": controller, "pid": pid}
        taken_over = bool(current.get("held") and current.get("holder") != holder)
        return {"lock": dict(self.state["lock"]), "taken_over": taken_over}

    def release_lock(self, holder: str) -> dict[str, Any]:
        self.writes.append(("release_lock", holder))
        self.state["lock"] = {"held": False}
        return {"released": True}


@pytest.fixture
def fake_api(monkeypatch):
    FakeAdminAPI.instances = []
    FakeAdminAPI.stored = None
    monkeypatch.setattr(_admin_api, "AdminAPI", FakeAdminAPI)
    return FakeAdminAPI


@pytest.fixture
def run_module(capsys):
    """run_module(module, args, prepare=None) -> (exit code, result); prepare(api) runs before main()."""

    def runner(module: Any, args: dict[str, Any], prepare: Any = None, connection: bool = True) -> tuple[int, dict]:
        full = dict(CONNECTION) if connection else {}
        full.update(args)
        if prepare is not None:
            original = FakeAdminAPI.__init__

            def init(self, *a, **k):
                original(self, *a, **k)
                prepare(self)

            FakeAdminAPI.__init__ = init
        try:
            with patch_module_args(full), pytest.raises(SystemExit) as caught:
                module.main()
        finally:
            if prepare is not None:
                FakeAdminAPI.__init__ = original
        out = capsys.readouterr().out
        return int(caught.value.code or 0), json.loads(out)

    return runner
