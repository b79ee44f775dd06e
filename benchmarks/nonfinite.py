"""What the non-finite guard (plait.train.nonfinite) costs per training step on CPU: the quickstart model
trained with the guard and without it, alternated in one process, medians of the Trainer's step time.

    python -m benchmarks.nonfinite [--repeats 5] [--steps 60]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch

from benchmarks.common import experiment


def train_once(guarded: bool, steps: int, folder: Path) -> float:
    """One short quickstart run; the median step time in seconds."""
    from plait.pipeline import run_experiment
    from plait.train import callbacks, loop

    exp = experiment("experiments/quickstart.yaml", f"train.max_steps={steps}", "train.log_every=1",
                     "eval.splits=[]", f"output_dir={folder}", "data.source.train_size=1000")
    times: list[float] = []
    original = callbacks.RunRecorder.on_log

    def timed(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            times.append(time.perf_counter())
        return original(self, args, state, control, logs=logs, **kwargs)

    with contextlib.ExitStack() as patches:
        patches.enter_context(mock.patch.object(callbacks.RunRecorder, "on_log", timed))
        if not guarded:  # the Trainer then gets guard=None: no check at all
            patches.enter_context(mock.patch.object(loop, "NonFiniteGuard", lambda *a, **k: None))
        run_experiment(exp, progress=False)
    gaps = [b - a for a, b in zip(times[10:], times[11:])]
    return statistics.median(gaps)


def guard_microseconds(micro_batches: int = 1, rounds: int = 20000) -> float:
    """The guard's own work per optimizer step (record each micro-batch's loss, one check), in microseconds."""
    from plait.train.nonfinite import NonFiniteGuard

    guard = NonFiniteGuard([str(i) for i in range(16)], False, True, lambda *a: None)
    index, loss, norm = torch.arange(16), torch.tensor(1.5), torch.tensor(2.0)
    start = time.perf_counter()
    for _ in range(rounds):
        for _ in range(micro_batches):
            guard.seen(index, loss)
        guard.step(1, norm)
    return (time.perf_counter() - start) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.manual_seed(0)
    results: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for guarded in ((True, False) if i % 2 == 0 else (False, True)):
                results[guarded].append(train_once(guarded, args.steps, Path(tmp)))
    on, off = statistics.median(results[True]), statistics.median(results[False])
    micro = guard_microseconds()
    share = micro / 1e3 / (off * 1e3) * 100
    print(f"guard's own cost per step: {micro:.1f} us ({share:.3f}% of a median step without it)")
    print(f"step ms with the guard {on * 1e3:.2f}, without {off * 1e3:.2f}, ratio {on / off:.3f} "
          f"(per run: with {[round(x * 1e3, 2) for x in results[True]]}, "
          f"without {[round(x * 1e3, 2) for x in results[False]]}; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
