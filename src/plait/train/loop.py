"""Training assembly over transformers' Trainer: optimizer, schedule, callbacks, checkpoints."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_model, save_model

from plait.core.trainer_imports import PrinterCallback, ProgressCallback, TrainingArguments
from plait.data.config import MixConfig
from plait.data.dataset import EncodedDataset
from plait.data.mix import MixDataset, mix_training
from plait.data.packing import FlatteningCollator, check_padding_free
from plait.data.sample import Sample
from plait.models.family import Built
from plait.runs.ranks import world_size
from plait.runs.rundir import RunDir
from plait.train.callbacks import CheckpointFinisher, Evaluator, RunRecorder
from plait.train.config import TrainConfig
from plait.train.distill.hook import Distiller
from plait.train.distributed import distributed_arguments
from plait.train.feature_plan import plan_feature_cache
from plait.train.nonfinite import IndexedCollator, IndexedDataset, NonFiniteGuard, mix_positions, record_skip
from plait.train.preempt import Preemption
from plait.train.progress import TrainingProgress, console, counting, warmup_note
from plait.train.resume import ResumeState
from plait.train.trainer import PlaitTrainer
from plait.train.schedules import build_scheduler
from plait.train.sparsity.callback import Sparsifier


@dataclass
class TrainResult:
    """What training did, for status.json."""

    steps: int
    epoch: float
    best: dict[str, Any]
    stopped_early: bool
    preempted: bool = False
    """Stopped by a pre-emption signal after writing a complete checkpoint at `steps`."""


def total_steps(cfg: TrainConfig, num_samples: int) -> int:
    """Optimizer steps the run will take (as the Trainer counts them)."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    batches = math.ceil(num_samples / (cfg.batch_size * world_size()))
    return max(1, math.ceil(cfg.epochs * max(batches // cfg.grad_accum, 1)))


def planned_epochs(cfg: TrainConfig, num_samples: int) -> float:
    """Epochs the run's `total_steps` amount to: samples drawn (steps x global batch) over the training set."""
    return total_steps(cfg, num_samples) * cfg.batch_size * cfg.grad_accum * world_size() / max(num_samples, 1)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over trainable parameters; no weight decay on biases and norms (1-D tensors)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    kind = cfg.optimizer if cfg.optimizer != "auto" else ("adamw_fused" if fused_supported(params) else "adamw_foreach")
    implementation = {"adamw_fused": {"fused": True}, "adamw_foreach": {"foreach": True},
                      "adamw": {"foreach": False}}[kind]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=cfg.adam_betas, **implementation)


def fused_supported(params: list[torch.Tensor]) -> bool:
    """Whether torch's fused AdamW takes these parameters (floating point, on CPU or CUDA, one device kind)."""
    devices = {p.device.type for p in params}
    return bool(params) and len(devices) == 1 and devices <= {"cpu", "cuda"} and all(
        p.is_floating_point() for p in params)


def training_arguments(cfg: TrainConfig, output: Path, steps: int, seed: int, progress: bool) -> TrainingArguments:
    """TrainingArguments that leave evaluation, saving decisions and rotation to plait's callbacks."""
    return TrainingArguments(
        output_dir=str(output),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        max_steps=steps,
        learning_rate=cfg.lr,
        max_grad_norm=cfg.max_grad_norm if cfg.max_grad_norm > 0 else 1e9,
        logging_steps=cfg.log_every,
        logging_first_step=True,
        logging_nan_inf_filter=False,
        eval_strategy="no",
        save_strategy="no",
        save_total_limit=None,
        report_to="none",
        disable_tqdm=not progress,
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=cfg.num_workers,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        # persistent workers draw their seed from the global generator on the first epoch only, so a
        # run resumed mid-epoch would draw once more than an uninterrupted one and its dropout would differ
        dataloader_persistent_workers=False,
        remove_unused_columns=False,
        # batches come from pinned memory on GPU; a blocking copy would wait for the previous step's kernels
        dataloader_pin_memory=torch.cuda.is_available(),
        accelerator_config={"non_blocking": torch.cuda.is_available()},
        bf16=cfg.precision == "bf16",
        fp16=cfg.precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        **distributed_arguments(cfg.distributed, world_size(), cpu=not torch.cuda.is_available()),
    )


def train(
    cfg: TrainConfig, run: RunDir, built: Built, train_samples: list[Sample], seed: int,
    evaluate: Callable[[], dict[str, float]], resume_from: Path | None = None, progress: bool = True,
    stage: str | None = None, on_validation: Callable[[int, dict[str, float]], None] | None = None,
    step_offset: int | None = None, mix: MixConfig | None = None, cache_epochs: float | None = None,
) -> TrainResult:
    """Train `built.model` in place; checkpoints go to run/checkpoints/step-N.

    `on_validation(step, values)` is called after each in-training validation before the last step and may
    raise Pruned. `cache_epochs`: the epochs the feature cache serves (a staged run's, all stages'; None: this
    call's), which its decision weighs against the fill (plait.train.feature_plan).
    """
    model = built.model
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    mixing = (mix_training(mix, train_samples, built.processor, seed, resume_from, cfg.keep_encoded_mb * 2**20)
              if mix is not None else None)
    steps = total_steps(cfg, len(mixing.dataset) if mixing else len(train_samples))
    note = warmup_note(getattr(cfg.schedule, "warmup_steps", 0), steps, f"stage {stage}: train" if stage else "train")
    if note and cfg.max_steps <= 0 and resume_from is None:  # with max_steps set, validation refused it already
        console.print(f"[yellow]{note}[/]", highlight=False, soft_wrap=True)
        run.log({"step": 0, "split": "event", "event": "warning", "message": note})
    evaluator = Evaluator(
        run, evaluate, cfg.eval_every, cfg.save_every, cfg.metric,
        cfg.early_stopping.patience if cfg.early_stopping else None,
        cfg.early_stopping.min_delta if cfg.early_stopping else 0.0, on_validation, step_offset,
    )
    finisher = CheckpointFinisher(run, cfg.keep_checkpoints, protect=lambda: evaluator.best_step)
    resume_state = ResumeState(run, evaluator, resume_from)
    preemption = Preemption()
    if cfg.save_init and resume_from is None:
        save_model(model, str(run.init_weights))
    shown = TrainingProgress(progress, evaluator.latest, stage)
    collate = built.processor.collate
    if cfg.padding_free:
        check_padding_free(model)
        collate = FlatteningCollator(collate)
    encoded = EncodedDataset(train_samples, built.processor.encode_train, cfg.keep_encoded_mb * 2**20,
                             built.processor.encode_train_many)
    guard = NonFiniteGuard([s.id for s in train_samples], cfg.skip_nonfinite, cfg.precision != "fp16",
                           on_skip=lambda step, reason, ids: record_skip(run, step, reason, ids))
    sparsifier = Sparsifier.for_run(cfg.sparsity, model, steps, run, resume_from, stage) if cfg.sparsity else None
    distiller = Distiller.build(cfg.distill, model, built.processor.tokenizer, steps) if cfg.distill else None
    trainer = PlaitTrainer(
        model=model,
        args=training_arguments(cfg, run.checkpoints, steps, seed, progress),
        # every batch carries its samples' positions in train_samples, which name a bad batch (NonFiniteGuard)
        data_collator=IndexedCollator(mixing.collate if mixing else collate),
        train_dataset=(IndexedDataset(mixing.dataset, mix_positions(mix.mode, mixing.positions)) if mixing
                       else IndexedDataset(encoded)),
        guard=guard,
        make_optimizer=lambda wrapped: make_optimizer(wrapped, cfg),
        make_scheduler=lambda optimizer: build_scheduler(optimizer, cfg.schedule, steps, cfg.lr),
        lengths=[built.processor.length(s) for s in train_samples] if cfg.group_by_length else None,
        distiller=distiller,
        sampler=mixing.sampler if mixing else None,
        batch_loss=mixing.loss if mixing else None,
        # resume_state and the sparsifier write into checkpoint-N, so they run before the finisher marks it complete;
        # a paired mix's loss adds its per-source losses to the logs before RunRecorder writes them
        callbacks=[*([mixing.loss] if mixing and mixing.loss else []), RunRecorder(run, stage, step_offset), evaluator,
                   shown, preemption, resume_state, *filter(None, [sparsifier]), finisher],
    )
    for printer in (PrinterCallback, ProgressCallback):  # raw log dicts; TrainingProgress shows them instead
        trainer.remove_callback(printer)
    resume_state.bind(trainer)
    # the datasets encode on access (EncodedDataset, MixDataset): no sample has been encoded before this point
    epochs = cache_epochs if cache_epochs is not None else planned_epochs(
        cfg, len(mixing.dataset) if mixing else len(train_samples))
    mixed = trainer.accelerator.mixed_precision != "no"  # the encoder then runs under the step's autocast
    plan_feature_cache(built, train_samples, epochs, run, trainer.is_world_process_zero(), stage,
                       trainer.accelerator.autocast if mixed else None)
    if cfg.encode_ahead and world_size() == 1:
        encode_ahead(mixing.dataset if mixing else encoded, len(train_samples), run, progress)
    with preemption.installed(), shown.closed():
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    state = trainer.state
    if preemption.stopped_at is not None:
        return TrainResult(state.global_step, round(state.epoch or 0.0, 4), evaluator.state(), False, True)
    stopped_early = state.global_step < steps
    if cfg.select_best and evaluator.best_step is not None:
        best = run.checkpoints / f"step-{evaluator.best_step}" / "model.safetensors"
        if best.exists():
            load_model(model, str(best), strict=False)
    return TrainResult(state.global_step, round(state.epoch or 0.0, 4), evaluator.state(), stopped_early)


def encode_ahead(encoded: EncodedDataset | MixDataset, samples: int, run: RunDir, live: bool) -> None:
    """Encode the `samples` training samples (a mix's: every source's) before the first step (train.encode_ahead);
    log how many and how long."""
    start = time.perf_counter()
    with counting(live, "encode", samples) as shown:
        kept = encoded.encode_ahead(shown=shown)
    run.log({"step": 0, "split": "event", "event": "encoded_ahead", "samples": kept, "of": samples,
             "mib": round(encoded.kept_bytes / 2**20, 1), "seconds": round(time.perf_counter() - start, 2)})
