"""The seed file: initial state of the admin API (sandbox/seed.yml by default)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from .errors import ApiError
from .fileload import load_model_file
from .models import RoutingMode, Weights
from .routing import resolve_weights

DEFAULT_SEED = Path(__file__).with_name("seed.yml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SeedFlag(_Strict):
    enabled: StrictBool = True
    description: str = ""


class SeedRouting(_Strict):
    mode: RoutingMode = "hybrid"
    weights: Weights | None = None

    @model_validator(mode="after")
    def _check(self) -> SeedRouting:
        if self.mode == "hybrid" and self.weights is None:
            raise ValueError("hybrid routing needs weights")
        try:
            self.resolved_weights()
        except ApiError as exc:
            raise ValueError(exc.detail) from exc
        return self

    def resolved_weights(self) -> dict[str, int]:
        weights = self.weights.model_dump() if self.weights else None
        return resolve_weights(self.mode, weights, {"direct": 50, "mcp": 50})


class SeedHistoryEntry(_Strict):
    action: Literal["deploy", "rollback"] = "deploy"
    from_: str | None = Field(default=None, alias="from")
    to: str
    status: Literal["succeeded", "failed"] = "succeeded"
    started_at: datetime
    finished_at: datetime | None = None


class SeedReleases(_Strict):
    available: list[str] = Field(min_length=1)
    current: str
    history: list[SeedHistoryEntry] = []

    @model_validator(mode="after")
    def _check(self) -> SeedReleases:
        if len(set(self.available)) != len(self.available):
            raise ValueError("available releases must be unique")
        if self.current not in self.available:
            raise ValueError(f"current release {self.current!r} is not in available")
        for entry in self.history:
            for name in (entry.from_, entry.to):
                if name is not None and name not in self.available:
                    raise ValueError(f"history mentions unknown release {name!r}")
        return self


class Seed(_Strict):
    flags: dict[str, SeedFlag] = {}
    routing: SeedRouting
    releases: SeedReleases


def load_seed(path: Path = DEFAULT_SEED) -> Seed:
    return load_model_file(path, Seed, "seed")
