"""Where plait keeps generated data and caches (PLAIT_CACHE, default ~/.cache/plait)."""

from __future__ import annotations

import os
from pathlib import Path

from plait.errors import UserError, check_writable_folder


def cache_root() -> Path:
    """The cache folder, created on demand."""
    root = Path(os.environ.get("PLAIT_CACHE", Path.home() / ".cache" / "plait"))
    check_writable_folder(root, "cache folder (PLAIT_CACHE)")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cache folder (PLAIT_CACHE) {root}: cannot create it ({err.strerror})") from None
    return root
