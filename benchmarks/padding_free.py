"""Padding-free batches beside padded ones, on texts of widely varying length."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from benchmarks.common import experiment, max_loss_gap, median_of, threads_flag
from plait.bench.harness import finish, interleave, run_plait, timed_experiment
from plait.bench.report import section, table
from plait.data.builtin.shapes import generate_shapes
from plait.pipeline import prepare_data

WORDS = [f"w{i}" for i in range(60)]


def write_manifest(folder: Path, size: int, seed: int = 0) -> Path:
    """A manifest over shapes images: 3 in 4 targets of 2-8 words, 1 in 4 of 150-250 words."""
    images = generate_shapes(size, 0, 0, 16, 1234)
    rng = random.Random(seed)
    path = folder / "train.jsonl"
    with open(path, "w") as f:
        for i in range(size):
            n = rng.randint(150, 250) if rng.random() < 0.25 else rng.randint(2, 8)
            f.write(json.dumps({"id": i, "image": str(images / "images" / f"train-{i:06d}.png"),
                                "prompt": "<image> describe.", "target": " ".join(rng.choices(WORDS, k=n))}) + "\n")
    return path


class PaddingFree:
    """Same model, data, order and batches; padded, padding-free, and padded with length grouping."""

    name = "padding-free"
    spec = "benchmarks/configs/varied_lengths.yaml"
    size = 128

    def run(self, repeats: int) -> tuple[str, bool]:
        with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
            manifest = write_manifest(Path(tmp), self.size)
            settings = {"padded": [], "padding-free": ["train.padding_free=true"],
                        "padded, grouped by length": ["train.group_by_length=true"],
                        "padding-free, grouped by length": ["train.padding_free=true", "train.group_by_length=true"]}
            variants = {}
            steps = 0
            for name, overrides in settings.items():
                exp = experiment(self.spec, f"data.source.train={manifest}", *overrides)
                steps = 2 * -(-self.size // exp.train.batch_size)
                exp = timed_experiment(exp, steps)
                data = prepare_data(exp, dry_run=False)
                variants[name] = (lambda exp=exp, data=data: finish(run_plait(exp, data, Path(tmp)), exp, warmup=2))
            runs = interleave(variants, repeats)
        keys = ("step_ms", "cpu_ms", "tokens_per_s", "samples_per_s", "padding", "peak_rss_mib")
        rows = {name: {k: median_of(runs, name, k) for k in keys} for name in variants}
        speedup = rows["padding-free"]["tokens_per_s"] / rows["padded"]["tokens_per_s"]
        losses = {name: next(t.losses for n, t in runs if n == name) for name in variants}
        gap = max_loss_gap(losses["padded"], losses["padding-free"])
        grouped_gap = max_loss_gap(losses["padded, grouped by length"], losses["padding-free, grouped by length"])
        extra = {name: {"tokens/s vs padded": f"{rows[name]['tokens_per_s'] / rows['padded']['tokens_per_s']:.2f}x"}
                 for name in variants if name != "padded"}
        notes = [
            f"{self.size} samples (image + prompt + target; 3 in 4 targets of 2-8 words, 1 in 4 of 150-250), "
            f"batch 16, {steps} steps (2 epochs), the first 2 left out; 2-layer Llama, width 128, sdpa attention "
            "(padding-free: one row per batch, position ids restart per sequence, block-diagonal causal mask)",
            "tokens/s counts real tokens (image tokens included, padding not); padding = share of padded slots",
            f"padding-free tokens/s over padded: **{speedup:.2f}x** (must show >= 1.5x: "
            f"{'yes' if speedup >= 1.5 else 'NO'}); medians of {repeats} runs per variant, alternated",
            f"loss per token, padded vs padding-free, same batches, {len(losses['padded'])} steps: "
            f"largest per-step difference {gap:.2e}",
            f"grouped by length (other batches, the same in both grouped variants): padded vs padding-free largest "
            f"per-step difference {grouped_gap:.2e}",
        ]
        return section("Padding-free batches on widely varying lengths",
                       f"python -m benchmarks padding-free --repeats {repeats}" + threads_flag(), table(rows, extra), notes), \
            speedup >= 1.5 and max(gap, grouped_gap) < 1e-4
