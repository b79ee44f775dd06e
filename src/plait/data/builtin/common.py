"""Helpers shared by the built-in dataset generators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSONL."""
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
