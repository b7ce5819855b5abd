# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Admin API access shared by the modules: the connection options, the client and the frame that holds it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._frame import Frame, ModuleFailed
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._http import (
    ConflictError,
    HTTPClient,
    HTTPClientError,
    NotFoundError,
    RequestPacer,
    ServerError,
    UnreachableError,
    validate_base_url,
)
from ansible_collections.matbakh.hybrid_routing.plugins.module_utils._poll import PollOutcome, poll_until

# Mirrors the doc fragment matbakh.hybrid_routing.connection: keep both in step.
CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = dict(
    api_base=dict(type="str", fallback=(env_fallback, ["API_BASE"])),
    admin_token=dict(type="str", no_log=True, fallback=(env_fallback, ["ADMIN_TOKEN"])),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="float", default=10.0),
    retries=dict(type="int", default=3),
    rollback_id=dict(type="str"),
    max_requests_per_second=dict(type="float", default=50.0),
    rate_limit_scope=dict(type="str"),
)


def _flag_states(document: dict[str, Any]) -> dict[str, bool]:
    return {name: bool(doc.get("enabled")) for name, doc in (document.get("flags") or {}).items()}


class AdminAPI:
    """Typed access to the admin API paths of docs/admin-api.md."""

    def __init__(
        self,
        api_base: str,
        admin_token: str,
        *,
        validate_certs: bool = True,
        ca_path: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        rollback_id: str | None = None,
        max_requests_per_second: float = 0.0,
        rate_limit_scope: str | None = None,
    ):
        headers = {"Authorization": f"Bearer {admin_token}"}
        # One cap per admin API (its scheme, host and port), unless the inventory names a wider scope.
        scope = rate_limit_scope or "{0.scheme}://{0.netloc}".format(urlsplit(api_base))
        pacer = RequestPacer(max_requests_per_second, scope) if max_requests_per_second > 0 else None
        if rollback_id:
            headers["X-Rollback-Id"] = rollback_id
        self.http = HTTPClient(
            api_base,
            headers=headers,
            timeout=timeout,
            retries=retries,
            validate_certs=validate_certs,
            ca_path=ca_path,
            service_name="the hybrid routing admin API",
            pacer=pacer,
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.request("GET", path, **kwargs)[1]

    def health(self, wait: float | None = None, hold_for: list[str] | None = None,
               hold_seconds: float = 0.0) -> dict[str, Any]:
        """The health document. With hold_for and hold_seconds, the service may hold the answer until the status
        is one of hold_for (docs/admin-api.md): one request instead of a poll every second."""
        params = {"wait_for": sorted(hold_for), "wait_seconds": round(hold_seconds, 1)} \
            if hold_for and hold_seconds > 0 else None
        return self.http.request("GET", "/health", params=params, wait=wait)[1]

    def flags(self) -> dict[str, bool]:
        """Flag name to enabled."""
        return _flag_states(self.get("/admin/feature-flags"))

    def set_flags(self, flags: dict[str, bool]) -> dict[str, bool]:
        """Set several flags in one atomic request; returns every flag's state afterwards."""
        return _flag_states(self.http.request("PATCH", "/admin/feature-flags", json={"flags": flags})[1])

    def routing(self, wait: float | None = None) -> dict[str, Any]:
        return self.get("/admin/routing", wait=wait)

    def set_routing(self, mode: str, weights: dict[str, int] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"mode": mode}
        if weights is not None:
            body["weights"] = weights
        return self.http.request("PUT", "/admin/routing", json=body)[1]

    def releases(self) -> dict[str, Any]:
        return self.get("/admin/releases")

    def start_release_rollback(self, target: str | None, idempotency_key: str) -> dict[str, Any]:
        body = {"target": target} if target else {}
        _status, data = self.http.request(
            "POST", "/admin/releases/rollback", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return data["deployment"]

    def deployment(self, deployment_id: str, wait: float | None = None) -> dict[str, Any]:
        return self.get(f"/admin/deployments/{quote(deployment_id, safe='')}", wait=wait)

    def snapshot(self) -> dict[str, Any] | None:
        """The stored rollback snapshot document ({snapshot, stored_at, stored_by}), or None when there is none."""
        try:
            return self.get("/admin/rollback/snapshot")
        except NotFoundError as exc:
            if isinstance(exc.body, dict) and exc.body.get("error") == "no_snapshot":
                return None
            raise

    def store_snapshot(self, snapshot: dict[str, Any], create_only: bool) -> tuple[bool, dict[str, Any]]:
        """Store the snapshot; (True, stored) when written, (False, existing) when create_only found one."""
        headers = {"If-None-Match": "*"} if create_only else None
        try:
            return True, self.http.request("PUT", "/admin/rollback/snapshot", json={"snapshot": snapshot},
                                           headers=headers)[1]
        except ConflictError as exc:
            if exc.status == 412 and isinstance(exc.body, dict) and isinstance(exc.body.get("snapshot"), dict):
                return False, exc.body["snapshot"]
            raise

    def delete_snapshot(self) -> dict[str, Any]:
        return self.http.request("DELETE", "/admin/rollback/snapshot")[1]

    def lock(self) -> dict[str, Any]:
        return self.get("/admin/locks/rollback")

    def acquire_lock(self, holder: str, reason: str, ttl_seconds: int, takeover: bool,
                     controller: str | None = None, pid: int | None = None,
                     replaces: str | None = None) -> dict[str, Any]:
        body = {"holder": holder, "reason": reason, "ttl_seconds": ttl_seconds, "takeover": takeover,
                "controller": controller, "pid": pid}
        if replaces:
            body["replaces"] = replaces
        return self.http.request("POST", "/admin/locks/rollback", json=body)[1]

    def release_lock(self, holder: str) -> dict[str, Any]:
        return self.http.request("DELETE", "/admin/locks/rollback", params={"holder": holder})[1]


class AdminAPIFrame(Frame):
    """A frame with a ready AdminAPI client; input problems fail before any request is sent."""

    @classmethod
    def argument_spec(cls, module_spec: dict[str, Any]) -> dict[str, Any]:
        return dict(CONNECTION_ARGSPEC, **module_spec)

    def __init__(self, params: dict[str, Any], check_mode: bool = False, diff_mode: bool = False):
        super().__init__(params, check_mode, diff_mode)
        self.api = self._client()

    def _client(self) -> AdminAPI:
        params = self.params
        try:
            api_base = validate_base_url(params["api_base"])
        except ValueError as exc:
            self.fail(f"{exc} (option api_base, or env API_BASE)")
        if not params["admin_token"]:
            self.fail("admin_token is not set: pass the option admin_token or export ADMIN_TOKEN.")
        if params["timeout"] <= 0:
            self.fail(f"timeout must be a positive number of seconds, got {params['timeout']}")
        if params["retries"] < 0:
            self.fail(f"retries must be 0 or more, got {params['retries']}")
        if params["max_requests_per_second"] < 0:
            self.fail(f"max_requests_per_second must be 0 (no cap) or more, got {params['max_requests_per_second']}")
        return AdminAPI(
            api_base,
            params["admin_token"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
            timeout=params["timeout"],
            retries=params["retries"],
            rollback_id=params["rollback_id"],
            max_requests_per_second=params["max_requests_per_second"],
            rate_limit_scope=params["rate_limit_scope"],
        )

    def failure(self, exc: Exception) -> ModuleFailed | None:
        if isinstance(exc, HTTPClientError):
            return ModuleFailed(str(exc), {"status": exc.status} if exc.status else {})
        return None

    def wait_until(self, read: Any, is_done: Any, timeout: float, interval: float, **kwargs: Any) -> PollOutcome:
        """poll_until over the admin API: no answer, a 5xx or a 429 is a sample; a 401 or a 404 ends the wait."""
        return poll_until(read, is_done, timeout, interval, transient=(UnreachableError, ServerError), **kwargs)
