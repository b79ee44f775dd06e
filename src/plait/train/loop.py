"""Training assembly over transformers' Trainer: optimizer, schedule, callbacks, checkpoints."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_model
from transformers import Trainer, TrainingArguments

from plait.data.dataset import EncodedDataset
from plait.data.sample import Sample
from plait.models.family import Built
from plait.runs.rundir import RunDir
from plait.train.callbacks import CheckpointFinisher, Evaluator, RunRecorder
from plait.train.config import TrainConfig
from plait.train.schedules import build_scheduler


@dataclass
class TrainResult:
    """What training did, for status.json."""

    steps: int
    epoch: float
    best: dict[str, Any]
    stopped_early: bool


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def total_steps(cfg: TrainConfig, num_samples: int) -> int:
    """Optimizer steps the run will take (as the Trainer counts them)."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    batches = math.ceil(num_samples / (cfg.batch_size * world_size()))
    return max(1, math.ceil(cfg.epochs * max(batches // cfg.grad_accum, 1)))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over trainable parameters; no weight decay on biases and norms (1-D tensors)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=cfg.adam_betas)


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
        dataloader_persistent_workers=cfg.num_workers > 0,
        remove_unused_columns=False,
        bf16=cfg.precision == "bf16",
        fp16=cfg.precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=True if world_size() > 1 else None,
        ddp_backend="gloo" if world_size() > 1 and not torch.cuda.is_available() else None,
    )


def train(
    cfg: TrainConfig, run: RunDir, built: Built, train_samples: list[Sample], seed: int,
    evaluate: Callable[[], dict[str, float]], resume_from: Path | None = None, progress: bool = True,
    stage: str | None = None,
) -> TrainResult:
    """Train `built.model` in place; checkpoints go to run/checkpoints/step-N."""
    model = built.model
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    steps = total_steps(cfg, len(train_samples))
    optimizer = make_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg.schedule, steps, cfg.lr)
    evaluator = Evaluator(
        run, evaluate, cfg.eval_every, cfg.save_every, cfg.metric,
        cfg.early_stopping.patience if cfg.early_stopping else None,
        cfg.early_stopping.min_delta if cfg.early_stopping else 0.0,
    )
    finisher = CheckpointFinisher(run, cfg.keep_checkpoints, protect=lambda: evaluator.best_step)
    trainer = Trainer(
        model=model,
        args=training_arguments(cfg, run.checkpoints, steps, seed, progress),
        data_collator=built.processor.collate,
        train_dataset=EncodedDataset(train_samples, built.processor.encode_train),
        optimizers=(optimizer, scheduler),
        callbacks=[RunRecorder(run, stage), evaluator, finisher],
    )
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    state = trainer.state
    stopped_early = state.global_step < steps
    if cfg.select_best and evaluator.best_step is not None:
        best = run.checkpoints / f"step-{evaluator.best_step}" / "model.safetensors"
        if best.exists():
            load_model(model, str(best), strict=False)
    return TrainResult(state.global_step, round(state.epoch or 0.0, 4), evaluator.state(), stopped_early)
