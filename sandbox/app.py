"""FastAPI application factory of the sandbox admin API."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from .errors import ApiError
from .faults import FaultConfig, FaultMiddleware, FaultState
from .middleware import AdminAuthMiddleware, ChangeLogMiddleware
from .routes import admin, health, internal, traffic
from .seed import Seed, load_seed
from .store import Store

HTTP_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}
# FastAPI's 400 for a body json.loads cannot even read (not UTF-8, nested too deep); malformed JSON is its 422.
BODY_PARSE_ERROR = "There was an error parsing the body"


@dataclass
class MetricsSettings:
    """Where and how often the sandbox publishes the service's CloudWatch metrics (docs/metrics.md)."""

    endpoint: str
    region: str
    environment: str
    interval: float = 10.0


@dataclass
class Settings:
    token: str
    state_dir: Path
    seed: Seed = field(default_factory=load_seed)
    faults: FaultConfig = field(default_factory=FaultConfig)
    clock: Callable[[], float] = time.time
    metrics: MetricsSettings | None = None


def _finite(value: Any) -> Any:
    """Python's JSON parser accepts NaN and Infinity; echoed back in a 422 they must not break the response."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == BODY_PARSE_ERROR:
            # Every unreadable body is a 422 validation_error, like malformed JSON (one documented answer).
            cause = exc.__cause__
            return _validation_response(
                [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error", "input": {},
                  "ctx": {"error": f"{type(cause).__name__}: {cause}" if cause else BODY_PARSE_ERROR}}]
            )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route on the path; RFC 9110 wants all of them.
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code, headers=headers)


def _validation_response(problems: Any) -> JSONResponse:
    summary = "; ".join(f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in problems[:5])
    return JSONResponse(
        {"error": "validation_error", "detail": summary, "errors": _finite(jsonable_encoder(problems))},
        status_code=422,
    )


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route serves on the request's path (HEAD comes with GET), sorted: asked of the routes
    themselves, so included routers count too."""
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in app.routes)
    ]


def _state_flag_names(spec: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The OpenAPI document with the service's flag names stated: flags are never created or deleted through the
    API, so the set is fixed (the seed's); an unknown name is a 422 `unknown_flags` (PATCH) or a 404 (PUT)."""
    spec = copy.deepcopy(spec)
    if not names:
        return spec
    schemas = spec["components"]["schemas"]
    patch = schemas["FlagsPatch"]["properties"]["flags"]
    patch.pop("additionalProperties", None)
    patch["properties"] = {name: {"type": "boolean"} for name in names}
    patch["additionalProperties"] = False
    patch["description"] = f"Any of the service's flags ({', '.join(names)}); another name is a 422 unknown_flags"
    document = schemas["FlagsDocument"]["properties"]["flags"]
    document["propertyNames"] = {"enum": names}
    for operation in spec["paths"]["/admin/feature-flags/{name}"].values():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] == "name":
                parameter["schema"]["enum"] = names
    schemas["FlagsHealth"]["properties"]["enabled"]["items"]["enum"] = names
    return spec


def _install_openapi(app: FastAPI, store: Store) -> None:
    generate = app.openapi  # FastAPI's, which builds the document once and caches it

    def openapi() -> dict[str, Any]:
        # Read at every request: POST /_sandbox/reset may bring back a seed with other flags than the db had.
        return _state_flag_names(generate(), list(store.flags()))

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings) -> FastAPI:
    store = Store(settings.state_dir, clock=settings.clock)
    seeded = store.seed_if_empty(settings.seed)
    faults = FaultState(settings.faults.model_copy(deep=True))

    publisher = None
    if settings.metrics is not None:
        from .metrics import MetricsPublisher

        m = settings.metrics
        publisher = MetricsPublisher(store, faults, m.endpoint, m.region, m.environment, m.interval)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if publisher is not None:
            publisher.start()
        yield
        if publisher is not None:
            publisher.stop()
        store.close()

    app = FastAPI(
        title="Hybrid routing admin API (sandbox)",
        version="1",
        description="The admin API contract of docs/admin-api.md, served by the dev sandbox. "
        "/_sandbox/* is sandbox-only.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.faults = faults
    app.state.metrics = publisher
    app.state.seed = settings.seed
    app.state.seeded_on_start = seeded

    _install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(internal.router)
    app.include_router(traffic.router)
    _install_openapi(app, store)

    # Last added is outermost: faults, then auth, then the change log (so it only sees authorized writes).
    app.add_middleware(ChangeLogMiddleware, store=store)
    app.add_middleware(AdminAuthMiddleware, token=settings.token)
    app.add_middleware(FaultMiddleware, faults=faults)
    return app
