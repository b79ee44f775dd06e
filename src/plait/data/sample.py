"""The sample record every source yields and every family's processor reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One example: an optional media file (image, features, pose), a prompt and a target text."""

    id: str
    prompt: str
    target: str
    media: Path | None = None
    start_ms: float | None = None
    end_ms: float | None = None
    decoder_prompt: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
