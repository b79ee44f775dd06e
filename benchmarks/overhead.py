"""plait's training step time on the quickstart model beside a hand-written PyTorch loop's."""

from __future__ import annotations

import statistics

from benchmarks.common import experiment, threads_flag
from plait.bench.harness import compare
from plait.bench.report import medians, section, table


class Overhead:
    """Quickstart model, data, batch and optimizer: plait (Trainer + callbacks + run directory) vs a bare loop."""

    name = "overhead"
    spec = "experiments/quickstart.yaml"

    def run(self, repeats: int, steps: int = 60, warmup: int = 10) -> tuple[str, bool]:
        timings = compare(experiment(self.spec), steps, warmup, repeats)
        rows = {side: medians([t.figures for t in timings if t.side == side]) for side in ("plait", "reference")}
        plait = [t.figures["step_ms"] for t in timings if t.side == "plait"]
        ref = [t.figures["step_ms"] for t in timings if t.side == "reference"]
        ratio = rows["plait"]["step_ms"] / rows["reference"]["step_ms"]
        per_round = statistics.median(p / r for p, r in zip(plait, ref))
        body = table(rows, {"plait": {"step time / reference": f"{ratio:.3f}"}})
        notes = [
            f"{steps} optimizer steps per run, the first {warmup} left out; medians of {repeats} runs per side, "
            "alternated in one process; each run builds the model afresh under the experiment's seed",
            f"plait / reference median step time: **{ratio:.3f}** (median of the per-round ratios: {per_round:.3f}); "
            f"per-run step ms: plait {[round(x, 1) for x in plait]}, reference {[round(x, 1) for x in ref]}",
            f"CPU time per step (this process, whatever else runs): plait / reference "
            f"{rows['plait']['cpu_ms'] / rows['reference']['cpu_ms']:.3f}",
            "must show: within 10% (ratio <= 1.10): " + ("yes" if ratio <= 1.10 else "NO"),
        ]
        return section("Training step time: plait vs a hand-written loop (quickstart)",
                       f"python -m benchmarks overhead --repeats {repeats}" + threads_flag(), body, notes), ratio <= 1.10
