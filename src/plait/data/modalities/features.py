"""Feature sequences in .npy files: (frames, ...) arrays, e.g. keypoints or per-frame CLIP embeddings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


class NonFiniteSignal(ValueError):
    """A feature or pose file holds NaN or infinite values (they would make the training loss NaN)."""


def check_finite(array: np.ndarray, path: Path) -> None:
    """NonFiniteSignal when `array` has a NaN or an infinity."""
    if not np.isfinite(array).all():
        raise NonFiniteSignal(f"{path}: NaN or infinite values")


def clip_frames(start_ms: float | None, end_ms: float | None, fps: float) -> tuple[int | None, int | None]:
    """First and end frame of a clip given in milliseconds, rounded outwards as pose-format does."""
    start = math.floor(start_ms / 1000 * fps) if start_ms is not None else None
    end = math.ceil(end_ms / 1000 * fps) if end_ms is not None else None
    return start, end


def load_features(path: Path, start_ms: float | None = None, end_ms: float | None = None,
                  fps: float | None = None) -> np.ndarray:
    """A (frames, features) float32 array; trailing axes are flattened, a clip is cut when times are given.

    A clip is read through a memory map (only its frames leave the disk); a whole file is read directly, which
    costs half as much for the small files of keypoint sequences (a map is set up and torn down per file)."""
    clipped = start_ms is not None or end_ms is not None
    array = np.load(path, mmap_mode="r" if clipped else None, allow_pickle=False)
    if array.ndim == 1:
        raise ValueError(f"a 1-D array of shape {array.shape} has no time axis")
    if clipped:
        if fps is None:
            raise ValueError("cutting a clip by time needs the frame rate of .npy files (model.signal.fps)")
        start, end = clip_frames(start_ms, end_ms, fps)
        array = array[start:end]
    # writable float32: a clip is copied out of the (read-only) map; a file read whole is converted only if needed
    convert = np.array if clipped else np.ascontiguousarray
    frames = convert(array, dtype=np.float32).reshape(len(array), -1)
    check_finite(frames, path)
    return frames


def count_frames(path: Path) -> int:
    """Frames in a .npy file (ValueError for a 1-D array, NonFiniteSignal for NaN/inf values: the values are
    read once, memory-mapped, as training would read them)."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if array.ndim == 1:
        raise ValueError(f"a 1-D array of shape {array.shape} has no time axis")
    check_finite(array, path)
    return int(array.shape[0])
