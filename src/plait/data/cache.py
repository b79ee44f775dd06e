"""Where plait keeps generated data and caches (PLAIT_CACHE, default ~/.cache/plait)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache folder, created on demand."""
    root = Path(os.environ.get("PLAIT_CACHE", Path.home() / ".cache" / "plait"))
    root.mkdir(parents=True, exist_ok=True)
    return root
