"""FastAPI application factory of the sandbox admin API."""

from __future__ import annotations

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

from .errors import ApiError
from .faults import FaultConfig, FaultMiddleware, FaultState
from .middleware import AdminAuthMiddleware, ChangeLogMiddleware
from .routes import admin, health, internal
from .seed import Seed, load_seed
from .store import Store

HTTP_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}


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
        problems = exc.errors()
        summary = "; ".join(f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in problems[:5])
        return JSONResponse(
            {"error": "validation_error", "detail": summary, "errors": _finite(jsonable_encoder(problems))},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )


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

    # Last added is outermost: faults, then auth, then the change log (so it only sees authorized writes).
    app.add_middleware(ChangeLogMiddleware, store=store)
    app.add_middleware(AdminAuthMiddleware, token=settings.token)
    app.add_middleware(FaultMiddleware, faults=faults)
    return app
