"""A data mix's data path (experiments/babylm.py:flamingo_tiny, paired captions + text) before and after MixDataset
took EncodedDataset's lean path: per-sample encoding on every access (before) against batched encoding, one call
per source, with samples kept and encoded before the first step (after).

Two measures, the variants alternated: (1) fetching and collating one paired batch as the Trainer's data loader does
(nothing kept, as in epoch 1 without encode_ahead, and every sample kept); (2) training steps through plait's train()
with the mix, the Probe's data+loop time between steps (the per-batch data time), and the time encode_ahead took
before the first step.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import tempfile
from pathlib import Path
from typing import Iterator

from benchmarks.common import experiment, threads_flag
from benchmarks.data_path import timed
from plait.bench.harness import Timing, build, finish, interleave, timed_experiment
from plait.bench.probe import Probe
from plait.bench.report import section, table
from plait.config.load import with_overrides
from plait.config.schema import Experiment
from plait.data.mix import MixDataset, PairedCollator, by_source
from plait.pipeline import Prepared, prepare_data
from plait.runs import atomic
from plait.runs.rundir import create_run_dir
from plait.train.loop import train

VARIANTS = {  # what each variant's run sets; "per-sample" also loses MixDataset.__getitems__ (per_sample below)
    "per-sample": {"train.keep_encoded_mb": 0, "train.encode_ahead": False},
    "batched": {"train.keep_encoded_mb": 0},
    "lean": {},
}


@contextlib.contextmanager
def per_sample() -> Iterator[None]:
    """MixDataset as it was: the data loader asks it for one index tuple at a time, each encoded alone."""
    fetch = MixDataset.__getitems__
    del MixDataset.__getitems__
    try:
        yield
    finally:
        MixDataset.__getitems__ = fetch  # type: ignore[method-assign]


def run_mix(exp: Experiment, data: Prepared, workdir: Path, old: bool) -> Timing:
    """plait.bench.harness.run_plait with the experiment's data mix."""
    built = build(exp, data)
    run = create_run_dir(workdir, exp.name)
    with (per_sample() if old else contextlib.nullcontext()), Probe(built.model) as probe:
        train(exp.train, run, built, data.splits["train"], exp.seed, evaluate=dict, progress=False, mix=exp.data.mix)
    records = atomic.read_jsonl(run.metrics)
    losses = [r["loss"] for r in records if r.get("split") == "train" and "loss" in r]
    ahead = next((r for r in records if r.get("event") == "encoded_ahead"), {})
    return Timing("plait", {}, losses, probe, {"built": built, "ahead_s": ahead.get("seconds", 0.0)})


class MixDataPath:
    """The mixed quickstart's paired batches: per-sample encoding against the lean path."""

    name = "mix-data-path"
    spec = "experiments/babylm.py:flamingo_tiny"

    def run(self, repeats: int, batches: int = 30, steps: int = 40, warmup: int = 5) -> tuple[str, bool]:
        base = timed_experiment(experiment(self.spec), steps)
        data = prepare_data(base, dry_run=False)
        processor = build(base, data).processor
        mix, size = base.data.mix, base.train.batch_size
        names = [s.name for s in mix.sources]
        groups = by_source(data.splits["train"], names)
        collate = PairedCollator(processor.collate, names)
        rng = random.Random(0)
        draws = [[tuple(rng.randrange(len(g)) for g in groups.values()) for _ in range(size)] for _ in range(batches)]
        kept = MixDataset(groups, processor.encode_train, mix.mode, 2**30, processor.encode_train_many)
        kept.encode_ahead()
        ms: dict[str, list[float]] = {"per-sample": [], "batched": [], "kept, per-sample": [], "kept, batched": []}
        for k, indices in enumerate(draws):  # each batch through every path, the order alternated
            fresh = MixDataset(groups, processor.encode_train, mix.mode, 0, processor.encode_train_many)
            runs = {"per-sample": lambda: collate([fresh[i] for i in indices]),
                    "batched": lambda: collate(fresh.__getitems__(indices)),
                    "kept, per-sample": lambda: collate([kept[i] for i in indices]),
                    "kept, batched": lambda: collate(kept.__getitems__(indices))}
            for name in (list(runs) if k % 2 == 0 else list(runs)[::-1]):
                ms[name].append(timed(runs[name], 20 if name.startswith("kept") else 1))
        fetch_ratio = statistics.median(b / s for b, s in zip(ms["batched"], ms["per-sample"]))
        kept_ratio = statistics.median(b / s for b, s in zip(ms["kept, batched"], ms["kept, per-sample"]))

        exps = {name: with_overrides(base, changes, "plait bench") for name, changes in VARIANTS.items()}
        with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
            def variant(name: str):
                return lambda: finish(run_mix(exps[name], data, Path(tmp), name == "per-sample"), exps[name], warmup)
            runs = interleave({name: variant(name) for name in VARIANTS}, repeats)
        rows = {name: {k: statistics.median(t.figures[k] for n, t in runs if n == name)
                       for k in ("step_ms", "compute_ms", "wait_ms")} for name in VARIANTS}
        ahead = {name: statistics.median(t.extra["ahead_s"] for n, t in runs if n == name) for name in VARIANTS}
        losses = {name: next(t.losses for n, t in runs if n == name) for name in VARIANTS}
        wait = {name: rows[name]["wait_ms"] / rows["per-sample"]["wait_ms"] for name in VARIANTS}
        extra = {name: {"data+loop / per-sample": f"{wait[name]:.3f}", "encode ahead s": f"{ahead[name]:.2f}"}
                 for name in VARIANTS}

        fetch = "\n".join([
            f"| one paired batch ({size} captions + {size} texts) | per-sample ms | batched ms "
            "| batched / per-sample |",
            "|---|---|---|---|",
            f"| fetch + collate, nothing kept | {statistics.median(ms['per-sample']):.2f} "
            f"| {statistics.median(ms['batched']):.2f} | {fetch_ratio:.3f} |",
            f"| fetch + collate, every sample kept | {statistics.median(ms['kept, per-sample']):.3f} "
            f"| {statistics.median(ms['kept, batched']):.3f} | {kept_ratio:.3f} |"])
        same = losses["per-sample"] == losses["batched"] == losses["lean"]
        sizes = ", ".join(f"{len(g)} {name}" for name, g in groups.items())
        notes = [
            f"{self.spec} ({sizes} training samples, paired, batch {size} of each source); micro-benchmark: "
            f"{batches} random paired batches, each through every path (order alternated; the kept rows timed over "
            "20 calls in a row), medians and the median of per-batch ratios",
            f"training: {steps} steps (all in epoch 1), the first {warmup} left out; medians of {repeats} runs per "
            "variant, rotated in one process; data+loop = the Probe's time between steps (fetch, collate, copy)",
            "per-sample = MixDataset before this change (one index tuple at a time, each sample encoded on every "
            "access, nothing kept, nothing ahead); batched = one encode_train_many per source per batch, nothing "
            "kept; lean = the defaults (keep_encoded_mb 1024, encode_ahead: every sample encoded before step 1, "
            "in the 'encode ahead s' column)",
            f"loss curves of the three variants identical (every logged step, exact float equality): "
            f"{'yes' if same else 'NO'}",
        ]
        return section("A data mix on the lean data path: MixDataset per batch, kept, encoded ahead",
                       f"python -m benchmarks mix-data-path --repeats {repeats}" + threads_flag(),
                       "\n\n".join([fetch, table(rows, extra)]), notes), \
            same and fetch_ratio < 1.0 and wait["lean"] < 1.0
