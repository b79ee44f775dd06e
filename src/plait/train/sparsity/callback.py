"""The Trainer callback that holds covered weights sparse: masks made at the start (or read from the checkpoint
being resumed), gradients of inactive entries zeroed before clipping and the optimizer, weights re-masked
after every optimizer step, RigL updates on schedule, masks written into every checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from plait.core.trainer_imports import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from plait.errors import UserError
from plait.runs.rundir import RunDir
from plait.train.sparsity.config import SparsityConfig, drop_fraction_at, is_update_step
from plait.train.sparsity.masks import MASK_FILE, MaskSet, covered_parameters, keep_counts, report
from plait.train.sparsity.rigl import apply_update, drop_and_grow


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class Sparsifier(TrainerCallback):
    """train.sparsity under transformers' Trainer (see the module docstring)."""

    def __init__(self, cfg: SparsityConfig, model: torch.nn.Module, steps: int, run: RunDir | None,
                 resume_from: Path | None = None) -> None:
        self.cfg = cfg
        self.model = model
        self.steps = steps
        self.run = run
        self.resume_from = resume_from
        self.params = covered_parameters(model, cfg.include, cfg.exclude, cfg.embeddings, cfg.norms)
        if not self.params:
            names = [n for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2][:3]
            raise ValueError(f"train.sparsity.include: {cfg.include} (exclude {cfg.exclude}) matches no trainable "
                             f"weight matrix; names are those of model.named_parameters(), e.g. {names}")
        self.counts = keep_counts({n: tuple(p.shape) for n, p in self.params.items()}, cfg.target, cfg.distribution)
        self.masks: MaskSet | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.dense: dict[str, torch.Tensor] | None = None
        """Dense gradients summed over the micro-batches of an update step (None between updates)."""
        self.hooks: list[Any] = []

    @classmethod
    def for_run(cls, cfg: SparsityConfig, model: torch.nn.Module, steps: int, run: RunDir,
                resume_from: Path | None, stage: str | None) -> "Sparsifier":
        """The sparsifier of one training run; rank 0 records the measured sparsity in `run`."""
        if stage is not None:
            raise UserError("train.sparsity: not supported with stages yet (each stage changes which weights "
                            "train, and so which ones a mask covers); train in one stage")
        try:
            return cls(cfg, model, steps, run, resume_from)
        except ValueError as err:
            raise UserError(str(err)) from None

    def start(self) -> None:
        """Masks from the checkpoint being resumed, else by magnitude; applied, and gradient hooks installed."""
        if self.resume_from is not None and (self.resume_from / MASK_FILE).exists():
            self.masks = MaskSet(self.params, {})
            self.masks.load(self.resume_from)
        else:
            self.masks = MaskSet.by_magnitude(self.params, self.counts)
            self.masks.broadcast()
        self.masks.apply()
        for name, param in self.params.items():
            self.hooks.append(param.register_hook(self._grad_hook(name)))
        if self.resume_from is None:  # a resumed run logged its start the first time
            self.record(0, "start", {})

    def _grad_hook(self, name: str):
        def hook(grad: torch.Tensor) -> torch.Tensor:
            if self.dense is not None:  # an update step: RigL regrows where the dense gradient is largest
                self.dense[name] = self.dense[name] + grad if name in self.dense else grad.detach().clone()
            return grad * self.masks.masks[name]
        return hook

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       optimizer: torch.optim.Optimizer | None = None, **kwargs: Any) -> None:
        self.optimizer = optimizer
        self.start()

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                      **kwargs: Any) -> None:
        self.dense = {} if is_update_step(state.global_step + 1, self.steps, self.cfg) else None

    def on_optimizer_step(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                          **kwargs: Any) -> None:
        step = state.global_step + 1  # the Trainer counts the step after this callback
        if self.dense is not None:
            self.update(step)
            self.dense = None
        self.masks.apply()

    @torch.no_grad()
    def update(self, step: int) -> None:
        """One RigL update after optimizer step `step`."""
        # a weight no gradient reached (on this rank) scores zero; every rank reduces the same tensors in order
        scores = {n: self.dense[n] if n in self.dense else torch.zeros_like(p) for n, p in self.params.items()}
        if _distributed():  # each rank saw its own shard's gradient; rank 0's masks are broadcast anyway
            for grad in scores.values():
                torch.distributed.all_reduce(grad)
        if not all(bool(torch.isfinite(g).all()) for g in scores.values()):  # identical on every rank, reduced
            self.record(step, "skipped", {"reason": "non-finite gradient"})  # the masks stay as they are
            return
        fraction = drop_fraction_at(step, self.steps, self.cfg)
        moved = 0
        for name, param in self.params.items():
            n = round(fraction * self.counts[name])
            score = scores[name].abs()
            if not score.any():  # no gradient reached it: nothing to rank regrowth by
                continue
            update = drop_and_grow(param, self.masks.masks[name], score, n)
            state = self.optimizer.state.get(param) if self.optimizer is not None else None
            apply_update(param, update, state)
            self.masks.masks[name] = update.mask
            moved += int(update.grown.numel())
        self.masks.broadcast()
        self.record(step, "rigl", {"drop_fraction": round(fraction, 6), "regrown": moved})

    def record(self, step: int, kind: str, extra: dict[str, Any]) -> None:
        """Log the measured sparsity (rank 0) to metrics.jsonl and status.json."""
        if self.run is None or (_distributed() and torch.distributed.get_rank() != 0):
            return
        values = self.measured()
        self.run.log({"step": step, "split": "event", "event": "sparsity", "update": kind, **extra, **values})
        self.run.update_status(sparsity=values)

    def measured(self) -> dict[str, Any]:
        """The measured shares, and `masked`: the share outside the masks (regrown weights are active but zero
        until their first step, so right after an update `covered` is above it)."""
        active = sum(int(m.sum()) for m in self.masks.masks.values())
        total = sum(p.numel() for p in self.params.values())
        return {**report(self.model, self.cfg, list(self.params)), "masked": round(1 - active / total, 6)}

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            self.masks.save(folder)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs: Any) -> None:
        for hook in self.hooks:
            hook.remove()
        self.hooks = []
