"""Pose and feature sequences: pose-format preprocessing, clips by time, frame limits and reasons to skip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mapper_data import BODY, REDUCED_FEATURES, holistic_pose, write_pose
from pose_format.pose_header import PoseHeaderComponent
from pose_format.utils.generic import fake_pose

from plait.data.modalities.features import load_features
from plait.data.modalities.pose import PoseFormatError, load_pose
from plait.data.sample import Sample
from plait.models.mapper.signal import SignalSettings, check_signal, read_signal


@pytest.fixture
def pose_file(tmp_path: Path) -> Path:
    return write_pose(tmp_path / "a.pose", holistic_pose(40, seed=0))


def test_holistic_reduction_matches_multimodalhugs_feature_size(pose_file: Path) -> None:
    assert load_pose(pose_file).shape == (40, REDUCED_FEATURES)
    assert load_pose(pose_file, reduce=False).shape == (40, (33 + 468 + 21 + 21 + 33) * 3)


def test_legs_hidden_and_shoulders_normalised(pose_file: Path) -> None:
    raw = load_pose(pose_file, hide_legs=False, reduce=False, normalize=False).reshape(40, -1, 3)
    hidden = load_pose(pose_file, hide_legs=True, reduce=False, normalize=False).reshape(40, -1, 3)
    knee = BODY.index("LEFT_KNEE")
    assert np.abs(raw[:, knee]).sum() > 0 and np.abs(hidden[:, knee]).sum() == 0
    norm = load_pose(pose_file, hide_legs=False, reduce=False, normalize=True).reshape(40, -1, 3)
    left, right = norm[:, BODY.index("LEFT_SHOULDER")], norm[:, BODY.index("RIGHT_SHOULDER")]
    assert np.linalg.norm(left - right, axis=-1).mean() == pytest.approx(1.0, abs=1e-4)
    assert np.abs(((left + right) / 2).mean(axis=0)).max() < 1e-4


def test_clip_by_milliseconds_reads_those_frames(pose_file: Path) -> None:
    whole = load_pose(pose_file, normalize=False)
    clip = load_pose(pose_file, start_ms=400, end_ms=1200, normalize=False)  # 25 fps: frames 10..29
    np.testing.assert_array_equal(clip, whole[10:30])


def test_unknown_pose_format_says_what_to_turn_off(tmp_path: Path) -> None:
    component = PoseHeaderComponent("HANDS", ["a", "b", "c"], [], [(0, 0, 0)], "XYC")
    path = write_pose(tmp_path / "odd.pose", fake_pose(5, components=[component]))
    with pytest.raises(PoseFormatError, match="HANDS has no known legs/shoulders; set model.signal.hide_legs and model.signal.normalize"):
        load_pose(path)
    assert load_pose(path, hide_legs=False, normalize=False).shape == (5, 6)
    reason = check_signal(Sample("s", "", "", media=path), SignalSettings())
    assert reason is not None and "set model.signal.hide_legs and model.signal.normalize to false" in reason


def test_features_clip_and_flatten(tmp_path: Path) -> None:
    array = np.arange(50 * 2 * 3, dtype=np.float32).reshape(50, 2, 3)
    np.save(tmp_path / "f.npy", array)
    assert load_features(tmp_path / "f.npy").shape == (50, 6)
    clip = load_features(tmp_path / "f.npy", start_ms=200, end_ms=600, fps=10)  # frames 2..5
    np.testing.assert_array_equal(clip, array[2:6].reshape(4, 6))
    with pytest.raises(ValueError, match="frame rate"):
        load_features(tmp_path / "f.npy", start_ms=200)
    for stored in (array, np.asfortranarray(array.astype(np.float64))):  # read whole: the same values, float32
        np.save(tmp_path / "g.npy", stored)
        whole, clip = load_features(tmp_path / "g.npy"), load_features(tmp_path / "g.npy", end_ms=5000, fps=10)
        for frames in (whole, clip):
            assert frames.dtype == np.float32 and frames.flags.writeable and frames.flags.c_contiguous
            np.testing.assert_array_equal(frames, array.reshape(50, 6))


def test_check_reasons_and_frame_limits(tmp_path: Path, pose_file: Path) -> None:
    np.save(tmp_path / "f.npy", np.zeros((30, 4), dtype=np.float32))
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    settings = SignalSettings(max_frames=20, frame_stride=2)

    def reason(name: str, start: float | None = None, **changes: object) -> str | None:
        return check_signal(Sample("s", "", "", media=tmp_path / name, start_ms=start),
                            SignalSettings(**{**settings.__dict__, **changes}))

    assert reason("f.npy") is None  # 30 frames, every 2nd: 15
    assert reason("f.npy", frame_stride=1) == "more frames than signal.max_frames"
    assert reason("a.pose") is None  # 40 frames, every 2nd: 20
    assert reason("a.pose", max_frames=19) == "more frames than signal.max_frames"
    assert reason("missing.pose") == "missing file"
    assert reason("empty.npy") == "empty file"
    assert reason("bad.npy") == "unreadable npy file (ValueError)"
    assert reason("clip.mp4") == "unsupported signal type .mp4"
    assert reason("f.npy", start=100.0) == "clip times on a .npy file need model.signal.fps"
    assert reason("f.npy", start=100.0, fps=10.0) is None
    assert check_signal(Sample("s", "", ""), settings) == "no signal path"
    strided = read_signal(Sample("s", "", "", media=tmp_path / "f.npy"), settings)
    assert strided.shape == (15, 4)


def test_preprocessed_poses_are_read_once_and_keyed_by_content_and_settings(tmp_path, monkeypatch) -> None:
    from plait.models.mapper import pose_cache

    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "cache"))
    parsed = []
    monkeypatch.setattr(pose_cache, "load_pose", lambda *a: parsed.append(a) or load_pose(*a))
    path = write_pose(tmp_path / "p.pose", holistic_pose(40, seed=1))
    sample = Sample(id="p", prompt="", target="x", media=path, start_ms=400, end_ms=1200)
    settings = SignalSettings()
    first, again = read_signal(sample, settings), read_signal(sample, settings)
    np.testing.assert_array_equal(first, load_pose(path, 400, 1200))
    np.testing.assert_array_equal(again, first)
    assert len(parsed) == 1 and len(list((tmp_path / "cache" / "poses").rglob("*.npy"))) == 1
    read_signal(sample, SignalSettings(normalize=False))  # other settings: another entry
    write_pose(path, holistic_pose(40, seed=2))  # same name, new content: read again, never the stale clip
    np.testing.assert_array_equal(read_signal(sample, settings), load_pose(path, 400, 1200))
    assert len(parsed) == 3
    np.testing.assert_array_equal(read_signal(sample, SignalSettings(cache_poses=False)), load_pose(path, 400, 1200))
    assert len(list((tmp_path / "cache" / "poses").rglob("*.npy"))) == 3  # cache_poses: false stores nothing
