"""The quickstart's data path, batched (one image-processor call per batch) beside per-sample encoding.

Three measures, each variant alternated with the other: (1) fetching and collating one batch as the Trainer's data
loader does (IndexedDataset over EncodedDataset; nothing kept yet, as in the first epoch, and every sample kept, as
later), the image processor alone, and padding; (2) 50 training steps through plait's train(), the Probe's data+loop time between steps; (3) one cProfile of
those 50 steps per variant, the data path's largest costs per step.
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from benchmarks.common import experiment, threads_flag
from plait.bench.harness import build, finish, interleave, run_plait, timed_experiment
from plait.bench.report import section, table
from plait.data.collate import pad
from plait.data.dataset import EncodedDataset
from plait.data.modalities.image import load_image, pixel_values, pixel_values_many
from plait.models.components.text import TextProcessor
from plait.models.projector.processor import ProjectorProcessor
from plait.pipeline import prepare_data
from plait.train.nonfinite import IndexedCollator, IndexedDataset

# where a profiled function lives, for the data-path table (model, optimizer and Trainer internals left out)
DATA_PATH = ("plait/data/", "processor.py", "components/text.py", "plait/train/nonfinite.py", "image_processing",
             "feature_extraction", "tokenization", "PIL/", "torch/utils/data/", "huggingface_hub/dataclasses",
             "numpy/")


@contextlib.contextmanager
def per_sample() -> Iterator[None]:
    """The projector processor without its batch encoder: TextProcessor's loop over encode_train (the old path)."""
    batched = ProjectorProcessor.encode_train_many
    ProjectorProcessor.encode_train_many = TextProcessor.encode_train_many  # type: ignore[method-assign]
    try:
        yield
    finally:
        ProjectorProcessor.encode_train_many = batched  # type: ignore[method-assign]


def pad_by_rows(sequences: list[list[int]], value: int) -> torch.Tensor:
    """plait.data.collate.pad as it was: one tensor per row copied into the padded batch."""
    out = torch.full((len(sequences), max(len(s) for s in sequences)), value, dtype=torch.long)
    for i, seq in enumerate(sequences):
        if seq:
            out[i, : len(seq)] = torch.tensor(seq)
    return out


def timed(fn: Callable[[], Any], number: int = 1) -> float:
    """Milliseconds per call, over `number` calls in a row (many for the sub-millisecond ones)."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return 1e3 * (time.perf_counter() - start) / number


class DataPath:
    """Quickstart processor and shapes data: a batch of 16 through per-sample and batched encoding."""

    name = "data-path"
    spec = "experiments/quickstart.yaml"

    def run(self, repeats: int, batches: int = 60, steps: int = 50, warmup: int = 5) -> tuple[str, bool]:
        exp = timed_experiment(experiment(self.spec), steps)
        data = prepare_data(exp, dry_run=False)
        processor = build(exp, data).processor
        samples, size = data.splits["train"], exp.train.batch_size
        rng = random.Random(0)
        draws = [rng.sample(range(len(samples)), size) for _ in range(batches)]
        collate = IndexedCollator(processor.collate)
        ms: dict[str, list[float]] = {"per-sample": [], "batched": [], "images, per image": [],
                                      "images, one call": [], "pad by rows": [], "pad": [], "kept, per-sample": [],
                                      "kept, batched": []}
        kept = IndexedDataset(EncodedDataset(samples, processor.encode_train, 2**30, processor.encode_train_many))
        for indices in draws:  # later epochs: every sample comes from the kept encodings
            kept.__getitems__(indices)
        for k, indices in enumerate(draws):  # alternated, each batch through both paths, nothing kept
            single = IndexedDataset(EncodedDataset(samples, processor.encode_train))
            batched = IndexedDataset(EncodedDataset(samples, processor.encode_train, 0, processor.encode_train_many))
            paths = [samples[i].media for i in indices]
            ids = [processor.encode_train(samples[i])["input_ids"] for i in indices]
            runs = {"per-sample": lambda: collate([single[i] for i in indices]),
                    "batched": lambda: collate(batched.__getitems__(indices)),
                    "images, per image": lambda: [pixel_values(processor.image_processor, p) for p in paths],
                    "images, one call": lambda: pixel_values_many(processor.image_processor, paths),
                    "pad by rows": lambda: [pad_by_rows(ids, v) for v in (0, -100, 0)],
                    "pad": lambda: [pad(ids, v) for v in (0, -100, 0)],
                    "kept, per-sample": lambda: collate([kept[i] for i in indices]),
                    "kept, batched": lambda: collate(kept.__getitems__(indices))}
            for name in (list(runs) if k % 2 == 0 else list(runs)[::-1]):
                ms[name].append(timed(runs[name], 20 if name.startswith(("pad", "kept")) else 1))
        load = timed(lambda: [load_image(p) for p in paths], 20)
        fetch_ratio = statistics.median(b / s for b, s in zip(ms["batched"], ms["per-sample"]))
        image_ratio = statistics.median(b / s for b, s in zip(ms["images, one call"], ms["images, per image"]))
        pad_ratio = statistics.median(b / s for b, s in zip(ms["pad"], ms["pad by rows"]))
        kept_ratio = statistics.median(b / s for b, s in zip(ms["kept, batched"], ms["kept, per-sample"]))

        with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
            def plait_run(batched: bool):
                with (contextlib.nullcontext() if batched else per_sample()):
                    return finish(run_plait(exp, data, Path(tmp)), exp, warmup)
            runs = interleave({"per-sample": lambda: plait_run(False), "batched": lambda: plait_run(True)}, repeats)
            profiles = {name: self.profile(exp, data, Path(tmp), name == "batched", steps)
                        for name in ("per-sample", "batched")}
        rows = {name: {k: statistics.median(t.figures[k] for n, t in runs if n == name)
                       for k in ("step_ms", "compute_ms", "wait_ms")} for name in ("per-sample", "batched")}
        losses = {name: next(t.losses for n, t in runs if n == name) for name in rows}
        wait_ratio = rows["batched"]["wait_ms"] / rows["per-sample"]["wait_ms"]

        fetch = "\n".join([
            "| one batch of 16 | per-sample ms | batched ms | batched / per-sample |", "|---|---|---|---|",
            f"| fetch + collate, nothing kept (epoch 1) | {statistics.median(ms['per-sample']):.2f} | {statistics.median(ms['batched']):.2f} "
            f"| {fetch_ratio:.3f} |",
            f"| image processor (with loading) | {statistics.median(ms['images, per image']):.2f} "
            f"| {statistics.median(ms['images, one call']):.2f} | {image_ratio:.3f} |",
            f"| fetch + collate, every sample kept (epoch 2 on) | {statistics.median(ms['kept, per-sample']):.3f} "
            f"| {statistics.median(ms['kept, batched']):.3f} | {kept_ratio:.3f} |",
            f"| padding ids, labels, mask (3 pads; before: row by row) | {statistics.median(ms['pad by rows']):.3f} "
            f"| {statistics.median(ms['pad']):.3f} | {pad_ratio:.3f} |"])
        body = "\n\n".join([fetch, table(rows, {"batched": {"data+loop / per-sample": f"{wait_ratio:.3f}"}}),
                            *(f"cProfile of {steps} steps, {name}: data-path functions by own time, ms per step\n\n"
                              + text for name, text in profiles.items())])
        same = losses["per-sample"] == losses["batched"]
        notes = [
            f"micro-benchmark: {batches} random batches of {size} drawn from the {len(samples)} training samples, "
            f"each through both paths (order alternated; the sub-millisecond rows timed over 20 calls in a row); "
            f"medians and the median of per-batch ratios; loading the 16 PNGs alone takes {load:.2f} ms",
            f"training: {steps} steps of the quickstart (all in epoch 1, so every batch is encoded), the first {warmup} "
            f"left out; medians of {repeats} runs per variant, alternated in one process",
            "per-sample = TextProcessor's default encode_train_many (a loop over encode_train), the path before "
            "(both variants use the new one-call pad; its own row compares it with the row-by-row pad it replaced)",
            f"loss curves of the two variants identical (every logged step, exact float equality): "
            f"{'yes' if same else 'NO'}",
        ]
        return section("Batched image processing: the quickstart's data path per batch (issue 17)",
                       f"python -m benchmarks data-path --repeats {repeats}" + threads_flag(), body, notes), \
            same and fetch_ratio < 1.0

    @staticmethod
    def profile(exp: Any, data: Any, workdir: Path, batched: bool, steps: int, top: int = 12) -> str:
        """One profiled training run; the data path's `top` functions by own time, and its totals, per step."""
        profiler = cProfile.Profile()
        with (contextlib.nullcontext() if batched else per_sample()):
            profiler.enable()
            run_plait(exp, data, workdir)
            profiler.disable()
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        rows = []
        for (file, line, func), (_, calls, own, cumulative, _) in stats.items():
            if any(part in file for part in DATA_PATH):
                short = "/".join(Path(file).parts[-2:])
                rows.append((own, cumulative, calls, f"{short}:{line}({func})"))
        lines = ["| function | own ms/step | cumulative ms/step | calls/step |", "|---|---|---|---|"]
        for own, cumulative, calls, name in sorted(rows, reverse=True)[:top]:
            lines.append(f"| `{name}` | {1e3 * own / steps:.2f} | {1e3 * cumulative / steps:.2f} | "
                         f"{calls / steps:.1f} |")
        fetch = next((c for (f, _, fn), (_, _, _, c, _) in stats.items()
                      if fn == "fetch" and "torch/utils/data/_utils/fetch.py" in f), 0.0)
        lines.append(f"| **data loader fetch, all of it** | | **{1e3 * fetch / steps:.2f}** | |")
        return "\n".join(lines)
