"""Test data for the mapper family: MediaPipe-Holistic-shaped .pose files (via pose-format), .npy files, TSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

from plait.data.sources.tsv import write_tsv

BODY = [
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE", "RIGHT_EYE_OUTER",
    "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW",
    "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY", "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX",
    "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE",
    "LEFT_HEEL", "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
]
HAND = ["WRIST"] + [f"{finger}_{joint}" for finger in ("THUMB", "INDEX_FINGER", "MIDDLE_FINGER", "RING_FINGER", "PINKY")
                    for joint in (("CMC", "MCP", "IP", "TIP") if finger == "THUMB" else ("MCP", "PIP", "DIP", "TIP"))]
HOLISTIC = [("POSE_LANDMARKS", BODY), ("FACE_LANDMARKS", [str(i) for i in range(468)]),
            ("LEFT_HAND_LANDMARKS", HAND), ("RIGHT_HAND_LANDMARKS", HAND), ("POSE_WORLD_LANDMARKS", BODY)]
REDUCED_FEATURES = 534  # what MultimodalHugs reports for Holistic poses after reduce_holistic_poses


def holistic_header() -> PoseHeader:
    """A MediaPipe Holistic header (543 + 33 world points, XYZC) built without mediapipe."""
    components = [PoseHeaderComponent(name, points, [], [(255, 0, 0)], "XYZC") for name, points in HOLISTIC]
    return PoseHeader(version=0.2, dimensions=PoseHeaderDimensions(width=640, height=480, depth=1),
                      components=components)


def holistic_pose(frames: int, seed: int, fps: float = 25.0, pattern: int | None = None) -> Pose:
    """Random poses with shoulders apart (so shoulder normalisation is defined); `pattern` shifts them."""
    rng = np.random.default_rng(seed)
    header = holistic_header()
    points = header.total_points()
    data = rng.normal(0.0, 0.1, (frames, 1, points, 3)).astype(np.float32)
    if pattern is not None:
        data += np.sin(np.arange(frames) / 3 + pattern)[:, None, None, None] * (pattern + 1) * 0.3
    data[:, :, BODY.index("LEFT_SHOULDER")] += np.array([0.5, 0.0, 0.0], dtype=np.float32)
    data[:, :, BODY.index("RIGHT_SHOULDER")] -= np.array([0.5, 0.0, 0.0], dtype=np.float32)
    confidence = np.ones((frames, 1, points), dtype=np.float32)
    return Pose(header, NumPyPoseBody(fps=fps, data=data, confidence=confidence))


def write_pose(path: Path, pose: Pose) -> Path:
    """Write a .pose file with pose-format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pose.write(f)
    return path


def mixed_dataset(folder: Path, words: tuple[str, ...] = ("hallo", "welt", "morgen", "regen")) -> dict[str, Path]:
    """train/test TSVs mixing .pose files (some cut by time) and .npy files of the same feature size."""
    rows = []
    for i in range(8):
        word = words[i % len(words)]
        if i % 2 == 0:
            name = f"poses/{i}.pose"
            write_pose(folder / name, holistic_pose(40, seed=i, pattern=i % len(words)))
            start, end = (400, 1200) if i % 4 == 0 else (0, 0)  # 10 to 30 frames at 25 fps
        else:
            name = f"features/{i}.npy"
            (folder / "features").mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(i)
            np.save(folder / name, rng.normal(i % len(words), 0.1, (12, REDUCED_FEATURES)).astype(np.float32))
            start, end = 0, 0
        rows.append({"signal": name, "signal_start": start, "signal_end": end, "encoder_prompt": "__dgs__",
                     "decoder_prompt": "__de__", "output": f"{word} {word}"})
    write_tsv(folder / "train.tsv", rows)
    write_tsv(folder / "test.tsv", rows[:4])
    return {"train": folder / "train.tsv", "test": folder / "test.tsv"}


def npy_samples(folder: Path, targets: list[str], dim: int = 6, prompt: str = "", decoder_prompt: str = "",
                seed: int = 0) -> list:
    """Samples with random .npy signals of 5 to 14 frames."""
    from plait.data.sample import Sample

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i, target in enumerate(targets):
        path = folder / f"{i}.npy"
        np.save(path, rng.normal(0, 1, (int(rng.integers(5, 15)), dim)).astype(np.float32))
        samples.append(Sample(id=str(i), prompt=prompt, target=target, media=path, decoder_prompt=decoder_prompt))
    return samples


TINY_T5 = {"model_type": "t5", "d_model": 32, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1,
           "num_heads": 2, "d_kv": 16, "dropout_rate": 0.0}
TINY_M2M = {"model_type": "m2m_100", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
            "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64,
            "decoder_ffn_dim": 64, "max_position_embeddings": 64, "dropout": 0.0}
