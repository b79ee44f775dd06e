"""Field types shared by config sections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import re

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


def _folder_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        raise ValueError("use letters, digits, '.', '_' and '-' (it names a folder)")
    return value


FolderName = Annotated[str, AfterValidator(_folder_name)]
"""A name that becomes a folder: letters, digits, '.', '_' and '-'."""
