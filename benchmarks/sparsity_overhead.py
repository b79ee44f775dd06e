"""Step-time overhead of train.sparsity (static masks, RigL updates) and of train.distill's teacher forward,
beside the dense run, all variants alternated in one process on the quickstart model."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from benchmarks.common import experiment, threads_flag
from plait.bench.harness import build, finish, interleave, run_plait, timed_experiment
from plait.bench.report import section
from plait.models.family import get_family
from plait.pipeline import prepare_data
from plait.train.distill.config import DistillConfig
from plait.train.sparsity.config import SparsityConfig

UPDATE_EVERY = 10


class SparsityOverhead:
    """Dense, static 80%, RigL 80% (an update every 10 steps), distilled from a same-size teacher, and both."""

    name = "sparsity-overhead"
    spec = "experiments/quickstart.yaml"

    def run(self, repeats: int, steps: int = 60, warmup: int = 10) -> tuple[str, bool]:
        exp = timed_experiment(experiment(self.spec), steps)
        data = prepare_data(exp, dry_run=False)
        with tempfile.TemporaryDirectory(prefix="plait-bench-sparse-") as tmp:
            teacher = Path(tmp) / "teacher"
            family = get_family(exp.model.family)
            family.save(build(exp, data), exp.model, teacher / "model")  # the student's size: one more forward
            static = SparsityConfig(target=0.8)
            rigl = SparsityConfig(target=0.8, method="rigl", update_every=UPDATE_EVERY, stop_at=1.0)
            distill = DistillConfig(teacher=str(teacher), temperature=2.0, kd_factor=0.5)
            configs = {"dense": {}, "static 80%": {"sparsity": static}, "rigl 80%": {"sparsity": rigl},
                       "distill": {"distill": distill}, "rigl 80% + distill": {"sparsity": rigl, "distill": distill}}

            def variant(update):
                variant_exp = exp.model_copy(update={"train": exp.train.model_copy(update=update)})
                return lambda: finish(run_plait(variant_exp, data, Path(tmp) / "runs"), variant_exp, warmup)

            timings = interleave({name: variant(u) for name, u in configs.items()}, repeats)
        mean_ms = {name: statistics.median(1000 * t.figures["seconds"] / t.figures["steps"]
                                           for n, t in timings if n == name) for name in configs}
        # CPU time of this process per step: the work done, whatever else competes for the cores
        cpu_ms = {name: statistics.median(1000 * (t.probe.cpu_ends[-1] - t.probe.cpu_ends[warmup - 1])
                                          / t.figures["steps"] for n, t in timings if n == name) for name in configs}
        dense, dense_cpu = mean_ms["dense"], cpu_ms["dense"]
        lines = ["| variant | wall ms per step | / dense | CPU ms per step | / dense |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {ms:.1f} | {ms / dense:.3f} | {cpu_ms[name]:.1f} | {cpu_ms[name] / dense_cpu:.3f} |"
                  for name, ms in mean_ms.items()]
        per_update = (cpu_ms["rigl 80%"] - cpu_ms["static 80%"]) * UPDATE_EVERY
        notes = [
            f"{steps} optimizer steps per run, the first {warmup} left out; {repeats} runs per variant, alternated "
            "in one process; per-step means over the timed steps (an update every few steps would vanish from a "
            "median), medians over the runs; the ratios below use CPU time, which other jobs on the cores do not "
            "inflate",
            f"RigL update (dense gradient kept in the step before, drop, regrow, optimizer moments reset, masks "
            f"broadcast): about **{per_update:.0f} ms each** ((rigl - static) x {UPDATE_EVERY}), "
            f"{per_update / dense_cpu:.2f} dense steps",
            f"static masks (gradient hooks and re-masking every step): {cpu_ms['static 80%'] / dense_cpu:.3f} x dense",
            f"teacher forward (a teacher of the student's size, frozen, no_grad) and the soft loss: "
            f"{cpu_ms['distill'] / dense_cpu:.3f} x dense",
            "zeros are stored dense: sparsity saves no time or memory here, it is the model that is sparse",
        ]
        body = "\n".join(lines)
        return section("Sparse training and distillation: step-time overhead (quickstart)",
                       f"python -m benchmarks sparsity-overhead --repeats {repeats}" + threads_flag(), body,
                       notes), True
