"""Bearer auth for /admin/* and the change log of authorized writes."""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .asgi import buffer_request
from .store import Store

ADMIN_PREFIX = "/admin"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_LOGGED_TEXT = 4096
# Endpoints put notable outcomes (e.g. a takeover) here; the change log records them.
CHANGE_RESULT_KEY = "sandbox_change_result"


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(f"{ADMIN_PREFIX}/")


async def _send_json(send: Send, status: int, body: dict[str, Any], extra_headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class AdminAuthMiddleware:
    """Every /admin/* path, known or not, needs the bearer token, so unknown paths do not leak as 404."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("authorization", "").encode()
        if not hmac.compare_digest(given, self._expected):
            await _send_json(
                send,
                401,
                {"error": "unauthorized", "detail": "missing or wrong bearer token"},
                [(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        # NaN and Infinity are not JSON: such a body is logged as text rather than with the values turned to null.
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return text[:MAX_LOGGED_TEXT]


class ChangeLogMiddleware:
    """Records every write that reached /admin/* past auth, whatever its status. Sits inside the auth and
    fault middlewares, so unauthorized requests and injected faults are never logged."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS or not is_admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        # The endpoint may not read the body at all (e.g. DELETE), so read it here and replay it.
        raw, replay = await buffer_request(receive)

        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        state = scope.setdefault("state", {})
        try:
            await self.app(scope, replay, capture)
        finally:
            headers = Headers(scope=scope)
            self.store.append_change(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1") or None,
                rollback_id=headers.get("x-rollback-id"),
                idempotency_key=headers.get("idempotency-key"),
                status=status,
                body=_decode_body(raw),
                result=state.get(CHANGE_RESULT_KEY),
            )
