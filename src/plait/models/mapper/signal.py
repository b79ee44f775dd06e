"""A sample's signal as the mapper family reads it: .npy features or a .pose file -> (frames, features)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plait.data.modalities.features import NonFiniteSignal, count_frames, load_features
from plait.data.modalities.pose import PoseFormatError, load_pose
from plait.data.sample import Sample
from plait.models.mapper.pose_cache import cached_pose

SUFFIXES = (".npy", ".pose")


@dataclass(frozen=True)
class SignalSettings:
    """Plain reading settings (the builder makes them from the config)."""

    fps: float | None = None
    frame_stride: int = 1
    max_frames: int | None = None
    hide_legs: bool = True
    reduce_holistic: bool = True
    normalize: bool = True
    cache_poses: bool = True


def read_signal(sample: Sample, settings: SignalSettings) -> np.ndarray:
    """(frames, features) float32: the clip cut by the sample's times, then every `frame_stride`-th frame."""
    path = sample.media
    if path is None:
        raise ValueError(f"sample {sample.id} has no signal")
    if path.suffix == ".pose":
        read = cached_pose if settings.cache_poses else load_pose
        frames = read(path, sample.start_ms, sample.end_ms, settings.hide_legs, settings.reduce_holistic,
                      settings.normalize)
    elif path.suffix == ".npy":
        frames = load_features(path, sample.start_ms, sample.end_ms, settings.fps)
    else:
        raise ValueError(f"{path}: unsupported signal type {path.suffix!r}; use {' or '.join(SUFFIXES)}")
    return frames[:: settings.frame_stride]


def check_signal(sample: Sample, settings: SignalSettings) -> str | None:
    """None when the signal loads within `max_frames`; otherwise the reason it cannot be used."""
    path = sample.media
    if path is None:
        return "no signal path"
    if path.suffix not in SUFFIXES:
        return f"unsupported signal type {path.suffix or '(none)'}"
    if not path.exists():
        return "missing file"
    if path.stat().st_size == 0:
        return "empty file"
    clipped = sample.start_ms is not None or sample.end_ms is not None
    if path.suffix == ".npy" and clipped and settings.fps is None:
        return "clip times on a .npy file need model.signal.fps"
    try:
        if path.suffix == ".npy" and not clipped:
            frames = -(-count_frames(path) // settings.frame_stride)  # header only: cheap on large datasets
        else:
            frames = len(read_signal(sample, settings))  # also proves the pose can be preprocessed
    except PoseFormatError as err:
        return str(err)
    except NonFiniteSignal:
        return f"non-finite values in the {path.suffix[1:]} file"
    except (OSError, ValueError, EOFError) as err:
        if "1-D array" in str(err):
            return "1-D array (no time axis)"
        return f"unreadable {path.suffix[1:]} file ({type(err).__name__})"
    except Exception as err:  # noqa: BLE001  (pose-format raises struct.error, IndexError... on a garbage file)
        return f"unreadable {path.suffix[1:]} file ({type(err).__name__})"
    if frames == 0:
        return "no frames in the clip"
    if settings.max_frames is not None and frames > settings.max_frames:
        return "more frames than signal.max_frames"
    return None
