"""Time an experiment's training through plait, and the same training through a hand-written loop.

Both sides build the model afresh under the experiment's seed, in the same process, and a benchmark
alternates them (plait first, then the reference first) so drifting machine load falls on both.
Evaluation and checkpoints are off while timing: the figures are training steps only.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from plait.bench.flops import Part, mfu, passes, peak_flops, step_flops
from plait.bench.probe import Probe
from plait.bench.reference import reference_loader, reference_train
from plait.config.load import with_overrides
from plait.config.schema import Experiment
from plait.data.dataset import EncodedDataset
from plait.data.packing import FlatteningCollator
from plait.models.family import BuildOptions, Built
from plait.models.registry import get_family
from plait.pipeline import Prepared, prepare_data
from plait.runs import atomic
from plait.runs.rundir import create_run_dir
from plait.train.feature_plan import measure
from plait.train.loop import make_optimizer, planned_epochs, train
from plait.train.schedules import build_scheduler
from plait.train.seed import seed_everything


@dataclass
class Timing:
    """One timed training run."""

    side: str
    """plait or reference."""
    figures: dict[str, float]
    """Probe.summary figures, plus mfu on CUDA."""
    losses: list[float]
    """Training loss per logged step (plait: every log_every steps; reference: every step)."""
    probe: Probe = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)


def timed_experiment(exp: Experiment, steps: int) -> Experiment:
    """`exp` trained for exactly `steps` optimizer steps, with no evaluation or checkpoints on the way."""
    quiet = {"max_steps": steps, "eval_every": -1, "save_every": -1, "early_stopping": None,
             "select_best": False, "average_checkpoints": None}
    changes = {f"train.{k}": v for k, v in quiet.items()}
    warmup = getattr(exp.train.schedule, "warmup_steps", 0)  # one-cycle has none
    if warmup >= steps:  # a timed run is shorter than the experiment's warm-up: the timing does not depend on it
        changes["train.schedule.warmup_steps"] = steps - 1
    return with_overrides(exp, changes, "plait bench")


def build(exp: Experiment, data: Prepared) -> Built:
    """The experiment's model, built under its seed, as `plait run` builds it."""
    seed_everything(exp.seed, exp.deterministic)
    options = BuildOptions(label_smoothing=exp.train.label_smoothing)
    return get_family(exp.model.family).build(exp.model, data.splits["train"], options)


def run_plait(exp: Experiment, data: Prepared, workdir: Path, sync: bool = True) -> Timing:
    """Train through plait's training assembly (Trainer + callbacks + run directory) under a probe."""
    built = build(exp, data)
    run = create_run_dir(workdir, exp.name)
    with Probe(built.model, sync) as probe:
        train(exp.train, run, built, data.splits["train"], exp.seed, evaluate=dict, progress=False)
    records = atomic.read_jsonl(run.metrics)
    losses = [r["loss"] for r in records if r.get("split") == "train" and "loss" in r]
    fill = next((r for r in records if r.get("event") == "feature_cache"), {})
    return Timing("plait", {}, losses, probe, {"built": built, "feature_cache": fill,
                                               "feature_cache_decision": run.status().feature_cache})


def run_reference(exp: Experiment, data: Prepared, sync: bool = True) -> Timing:
    """Train the same model on the same batches with `reference_train` under a probe."""
    from plait.core.trainer_imports import LengthGroupedSampler

    built = build(exp, data)
    cfg, samples, processor = exp.train, data.splits["train"], built.processor
    if processor.features is not None:  # the cache belongs to the data, which both sides share; decided as plait does
        if measure(processor.features, samples, planned_epochs(cfg, len(samples))).decision == "on":
            processor.prepare_training(samples)
        else:
            processor.features = None
    collate = FlatteningCollator(processor.collate) if cfg.padding_free else processor.collate
    sampler = None
    if cfg.group_by_length:
        sampler = LengthGroupedSampler(cfg.batch_size * cfg.grad_accum, lengths=[processor.length(s) for s in samples])
    # the same data pipeline as plait's: samples kept once encoded, and encoded before the first step
    dataset = EncodedDataset(samples, processor.encode_train, cfg.keep_encoded_mb * 2**20, processor.encode_train_many)
    if cfg.encode_ahead:
        dataset.encode_ahead()
    loader = reference_loader(dataset, cfg.batch_size, collate, exp.seed, cfg.num_workers, sampler)
    optimizer = make_optimizer(built.model, cfg)
    scheduler = build_scheduler(optimizer, cfg.schedule, cfg.max_steps, cfg.lr)
    with Probe(built.model, sync) as probe:
        losses = reference_train(built.model, loader, optimizer, scheduler, cfg.max_steps, cfg.max_grad_norm,
                                 cfg.grad_accum, cfg.precision)
    return Timing("reference", {}, losses, probe, {"built": built})


def finish(timing: Timing, exp: Experiment, warmup: int, peak: float | None = None) -> Timing:
    """Fill in the figures over the steps after `warmup`, with MFU on CUDA."""
    figures = timing.probe.summary(warmup)
    if torch.cuda.is_available():
        precision = exp.train.precision
        if precision == "fp32" and torch.backends.cuda.matmul.allow_tf32:
            precision = "tf32"
        peak = peak or peak_flops(torch.cuda.get_device_name(), precision)
        if peak:
            figures["mfu"] = mfu(estimate_step_flops(timing.extra["built"], timing.probe, warmup),
                                 figures["seconds"] / figures["steps"], peak)
    timing.figures = figures
    timing.extra.pop("built", None)  # the model is not needed any more; free it before the next run
    return timing


def estimate_step_flops(built: Built, probe: Probe, warmup: int) -> float:
    """Model FLOPs per step of a model with a causal LM `language` (and a `vision` encoder and `projector`)."""
    model = built.model
    window = [b for b in probe.batches if b.step >= warmup]
    steps = max(1, len(probe.ends) - warmup)
    tokens = sum(int(b.tokens) for b in window) / steps
    sequences = sum(int(b.samples) for b in window) / steps
    images = sum(b.images for b in window) / steps
    cached = built.processor.features is not None

    def trains(module: torch.nn.Module) -> bool:
        return any(p.requires_grad for p in module.parameters())

    language = model.language
    config = language.config
    matmul_params = sum(p.numel() for p in language.parameters())
    if language.get_output_embeddings() is None or (
            language.get_output_embeddings().weight is not language.get_input_embeddings().weight):
        matmul_params -= language.get_input_embeddings().weight.numel()  # a lookup, not a product
    parts = [Part(matmul_params, int(tokens), passes(trains(language), True), config.num_hidden_layers,
                  config.hidden_size, tokens / max(sequences, 1))]
    vision = model.vision  # bench is declared by the projector family only (registry: bench=True)
    if images and not cached:
        patches = int(images * built.processor.num_image_tokens)
        width = getattr(vision.config, "hidden_size", 0)
        parts.append(Part(sum(p.numel() for p in vision.parameters()), patches, passes(trains(vision), False),
                          getattr(vision.config, "num_hidden_layers", 0), width, built.processor.num_image_tokens))
    projector = model.projector
    if images:
        parts.append(Part(sum(p.numel() for p in projector.parameters()),
                          int(images * built.processor.num_image_tokens), passes(trains(projector), False)))
    return step_flops(parts)


def interleave(variants: dict[str, Callable[[], Timing]], repeats: int) -> list[tuple[str, Timing]]:
    """Run every variant `repeats` times, rotating which goes first each round; (name, timing) in run order."""
    names = list(variants)
    out = []
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            out.append((name, variants[name]()))
    return out


def compare(exp: Experiment, steps: int, warmup: int, repeats: int, reference: bool = True,
            sync: bool = True, peak: float | None = None) -> list[Timing]:
    """plait's runs and the reference's, alternated `repeats` times; every timing, in run order."""
    exp = timed_experiment(exp, steps)
    data = prepare_data(exp, dry_run=False)
    with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
        variants = {"plait": lambda: finish(run_plait(exp, data, Path(tmp), sync), exp, warmup, peak)}
        if reference:
            variants["reference"] = lambda: finish(run_reference(exp, data, sync), exp, warmup, peak)
        return [timing for _, timing in interleave(variants, repeats)]
