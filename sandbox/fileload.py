from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(Exception):
    """A seed or faults file that cannot be read or does not match its schema; the message is user-facing."""


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def load_model_file(path: Path, model: type[M], what: str) -> M:
    """Read a YAML (or JSON, a YAML subset) file and validate it against `model`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{what} file {path} is not valid YAML/JSON: {exc}") from exc
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(f"{what} file {path} is invalid:\n{format_validation_error(exc)}") from exc
