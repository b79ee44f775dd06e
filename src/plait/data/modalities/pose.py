"""Pose sequences in .pose files (pose-format), preprocessed as MultimodalHugs does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plait.data.modalities.features import check_finite
from plait.errors import UserError

if TYPE_CHECKING:
    from pose_format import Pose


class PoseFormatError(ValueError):
    """The pose's components are not a format pose-format knows the legs and shoulders of."""


def read_pose(path: Path, start_ms: float | None = None, end_ms: float | None = None) -> Pose:
    """The pose, or only the clip between the given times (pose-format reads just those frames)."""
    try:  # an optional extra: only .pose data needs it
        from pose_format import Pose
    except ImportError:
        raise UserError(f"{path}: reading .pose files needs pose-format (pip install 'plait[pose]')") from None
    with open(path, "rb") as f:
        if start_ms is None and end_ms is None:
            pose = Pose.read(f.read())
        else:
            pose = Pose.read(f, start_time=start_ms, end_time=end_ms)
    data = pose.body.data
    check_finite(np.ma.getdata(data)[~np.ma.getmaskarray(data)], path)  # masked points are missing, not bad
    return pose


def preprocess(pose: Pose, hide_legs: bool = True, reduce: bool = True, normalize: bool = True) -> Pose:
    """Hide legs, drop face-mesh points of Holistic poses, normalise by the shoulders (pose-format's own functions)."""
    from pose_format.utils.generic import detect_known_pose_format, pose_hide_legs, reduce_holistic

    try:
        known = detect_known_pose_format(pose)
    except ValueError:
        known = None
    names = ", ".join(c.name for c in pose.header.components)
    unknown = PoseFormatError(
        f"pose format with components {names} has no known legs/shoulders; set model.signal.hide_legs and model.signal.normalize to false"
    )
    if known is None and (hide_legs or normalize):
        raise unknown
    try:
        if hide_legs:
            pose_hide_legs(pose)
        if reduce and known == "holistic":  # other formats have no face mesh to reduce
            pose = reduce_holistic(pose)
        if normalize:
            pose = pose.normalize()
    except NotImplementedError:  # a format pose-format detects but has no legs/shoulders table for
        raise unknown from None
    return pose


def pose_frames(pose: Pose) -> np.ndarray:
    """(frames, points * dims) float32 of the first person, missing points as zeros."""
    data = pose.body.data[:, 0]
    filled = np.ma.filled(data, 0.0) if np.ma.isMaskedArray(data) else np.asarray(data)
    return np.nan_to_num(filled.astype(np.float32)).reshape(len(filled), -1)


def load_pose(path: Path, start_ms: float | None = None, end_ms: float | None = None, hide_legs: bool = True,
              reduce: bool = True, normalize: bool = True) -> np.ndarray:
    """A .pose file (or a clip of it) as (frames, features) float32."""
    return pose_frames(preprocess(read_pose(path, start_ms, end_ms), hide_legs, reduce, normalize))
