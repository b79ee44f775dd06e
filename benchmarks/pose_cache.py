"""The pose cache: reading MediaPipe Holistic .pose clips with it (cold and warm) and without it."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import private_cache
from plait.bench.report import section
from plait.data.sample import Sample
from plait.models.mapper import pose_cache
from plait.models.mapper.signal import SignalSettings, read_signal
from tests.mapper_data import holistic_pose, write_pose

FILES, FRAMES = 64, 200
"""64 clips of 8 s at 25 fps, the size of a PHOENIX-2014T sentence."""


class PoseCache:
    """One pass over the clips (as an epoch's data loading does): no cache, filling it, reading it."""

    name = "pose-cache"

    def run(self, repeats: int) -> tuple[str, bool]:
        passes: dict[str, list[float]] = {"no cache": [], "cache, first pass": [], "cache, later passes": [],
                                          "cache, in a new process": []}
        with tempfile.TemporaryDirectory(prefix="plait-bench-poses-") as tmp:
            samples = [Sample(id=str(i), prompt="", target="", media=write_pose(Path(tmp) / f"{i}.pose",
                                                                                  holistic_pose(FRAMES, seed=i)))
                       for i in range(FILES)]
            for _ in range(repeats):
                passes["no cache"].append(timed_pass(samples, SignalSettings(cache_poses=False)))
                with private_cache():
                    passes["cache, first pass"].append(timed_pass(samples, SignalSettings()))
                    passes["cache, later passes"].append(timed_pass(samples, SignalSettings()))
                    pose_cache._digest.cache_clear()  # what a new run finds: entries on disk, no file hashed yet
                    passes["cache, in a new process"].append(timed_pass(samples, SignalSettings()))
            size = sum(s.media.stat().st_size for s in samples) / len(samples) / 2**20
        ms = {name: statistics.median(values) * 1000 / FILES for name, values in passes.items()}
        speedup = ms["no cache"] / ms["cache, later passes"]
        fresh = ms["no cache"] / ms["cache, in a new process"]
        lines = ["| | ms per clip (median of %d passes) |" % repeats, "|---|---|"]
        lines += [f"| {name} | {value:.2f} |" for name, value in ms.items()]
        notes = [f"{FILES} MediaPipe Holistic .pose files (576 points x XYZ, {FRAMES} frames, {size:.1f} MiB each), "
                 "read with the default preprocessing (hide legs, reduce_holistic, shoulder normalisation) "
                 "to (200, 534) float32",
                 f"later passes in the same process (epochs 2+ and evaluation; data workers are forked after the "
                 f"screening pass has hashed every file): **{speedup:.1f}x** faster than parsing every time",
                 f"in a new process (another run or sweep trial on the same files), each file is hashed again: "
                 f"{fresh:.1f}x; the first pass pays for hashing and writing the entries"]
        return section("Pose cache: reading preprocessed .pose clips", f"python -m benchmarks pose-cache "
                       f"--repeats {repeats}", "\n".join(lines), notes), speedup > 1


def timed_pass(samples: list[Sample], settings: SignalSettings) -> float:
    """Seconds to read every sample's signal once."""
    start = time.perf_counter()
    for sample in samples:
        read_signal(sample, settings)
    return time.perf_counter() - start
