"""Field types shared by config sections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Relative paths in an experiment file are relative to that file."""
    if value.is_absolute():
        return value
    base = (info.context or {}).get("base_dir")
    return (Path(base) / value).resolve() if base else value.resolve()


FilePath = Annotated[Path, AfterValidator(_resolve_path)]
"""A path, resolved against the experiment file's folder when relative."""

ConfigDict = dict[str, Any]
