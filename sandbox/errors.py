from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered with the contract's shape: {"error": code, "detail": text, ...extra}."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail, **self.extra}
