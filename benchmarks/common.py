"""What the benchmark scenarios share: loading an experiment, a private cache, medians, the results file."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from plait.bench.harness import Timing
from plait.config import load_experiment
from plait.config.schema import Experiment

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def experiment(spec: str | Path, *overrides: str) -> Experiment:
    """An experiment file (relative to the repository root) with dotted overrides."""
    return load_experiment(str(ROOT / spec), list(overrides))


@contextlib.contextmanager
def private_cache() -> Iterator[Path]:
    """A fresh PLAIT_CACHE for the block, so a cache benchmark starts cold and leaves nothing behind."""
    old = os.environ.get("PLAIT_CACHE")
    with tempfile.TemporaryDirectory(prefix="plait-bench-cache-") as tmp:
        os.environ["PLAIT_CACHE"] = tmp
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("PLAIT_CACHE", None)
            else:
                os.environ["PLAIT_CACHE"] = old


def median_of(runs: list[tuple[str, Timing]], name: str, key: str) -> float:
    """Median of one figure over a variant's runs."""
    return statistics.median(t.figures[key] for n, t in runs if n == name)


def max_loss_gap(a: list[float], b: list[float]) -> float:
    """Largest per-step difference between two loss curves of the same length."""
    if len(a) != len(b) or not a:
        raise ValueError(f"loss curves differ in length ({len(a)} vs {len(b)})")
    return max(abs(x - y) for x, y in zip(a, b))


def threads_flag() -> str:
    """The --threads flag that reproduces this process's torch thread count, or nothing at the default."""
    default = os.cpu_count() or 1
    return "" if torch.get_num_threads() == default else f" --threads {torch.get_num_threads()}"


def best_of(fn: Callable[[], Any], number: int = 5) -> float:
    """The least wall seconds of `number` calls of `fn`."""
    times = []
    for _ in range(number):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
