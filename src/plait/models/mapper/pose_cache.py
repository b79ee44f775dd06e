"""Preprocessed pose clips, stored once: a .pose file is parsed, reduced and normalised on its first read only.

Reading a MediaPipe Holistic .pose file and preprocessing it (pose-format: hide legs, reduce_holistic,
normalize) costs milliseconds per sample on every epoch, screening pass and evaluation; the result is a
small float32 array. It is stored under `$PLAIT_CACHE/poses`, keyed by the file's content (SHA-256, never its
name), the clip times and the preprocessing settings, so an edited file or a changed setting is read again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from plait.data.cache import cache_root
from plait.data.modalities.pose import load_pose

VERSION = 1
"""Bump when load_pose's output changes for the same file and settings."""


@functools.lru_cache(maxsize=65536)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of the file's bytes (memoised per process while its size and modification time stay)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def content_digest(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def cached_pose(path: Path, start_ms: float | None, end_ms: float | None, hide_legs: bool, reduce: bool,
                normalize: bool) -> np.ndarray:
    """load_pose's (frames, features) array, from the cache when this clip was read before with these settings."""
    key = json.dumps([content_digest(path), start_ms, end_ms, hide_legs, reduce, normalize, VERSION])
    name = hashlib.sha256(key.encode()).hexdigest()
    stored = cache_root() / "poses" / name[:2] / f"{name}.npy"
    if stored.exists():
        try:
            return np.load(stored)
        except (OSError, ValueError, EOFError):  # a damaged entry is rebuilt, never trusted
            pass
    frames = load_pose(path, start_ms, end_ms, hide_legs, reduce, normalize)
    stored.parent.mkdir(parents=True, exist_ok=True)
    tmp = stored.with_name(f"{stored.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, frames)
    os.replace(tmp, stored)  # readers see the whole array or none (several data workers may write it at once)
    return frames
