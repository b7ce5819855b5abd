from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import WithJsonSchema

from ..faults import FaultState
from ..middleware import CHANGE_RESULT_KEY
from ..models import ErrorResponse
from ..store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_faults(request: Request) -> FaultState:
    return request.app.state.faults


def note_change(request: Request, **result: Any) -> None:
    """Attach notable outcomes of a write to its change-log entry."""
    request.scope.setdefault("state", {}).setdefault(CHANGE_RESULT_KEY, {}).update(result)


StoreDep = Annotated[Store, Depends(get_store)]
FaultsDep = Annotated[FaultState, Depends(get_faults)]


def optional_header(**schema: Any) -> WithJsonSchema:
    """The schema of an optional header: a string, not `string or null` (a header is absent or a string, and a
    fuzzer would send the text "null" for the null)."""
    return WithJsonSchema({"type": "string", **schema})


RollbackIdHeader = Annotated[
    str | None,
    Header(alias="X-Rollback-Id", description="Correlation id of the rollback"),
    optional_header(),
]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}
