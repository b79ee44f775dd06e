"""plait's Trainer: its own optimizer and schedule, made when the Trainer asks; length-grouped sampling.

The optimizer and schedule are never passed in: the Trainer asks for them once it has wrapped the model,
which DeepSpeed needs (it would otherwise put transformers' default AdamW and linear schedule in their place).

Length-grouped sampling uses lengths known up front, and draws from the seed and the epoch.

transformers' Trainer groups by length with its LengthGroupedSampler, but outside a `datasets.Dataset`
it learns the lengths by encoding every sample (images included) before the first step. The family's
processor can count tokens without loading any media, so this Trainer hands those counts over. That
sampler also draws from the global RNG, whose state when an epoch starts differs after a resume; here
each epoch's order comes from seed + epoch, as accelerate's seedable sampler does for random order.

With a `distiller` (train.distill), the loss of each training micro-batch mixes in the teacher's soft loss,
the teacher run on the same batch inside the loss computation (plait.train.distill).

While it trains, the model's `train()` and `zero_grad()` skip their walk over every module (steady_module_calls):
the Trainer calls both on every step (transformers 5.24 training_step and _run_epoch), about 0.6 ms of a small
model's 15 ms CPU step, where a hand-written loop calls neither.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any, Callable, Iterator

import torch
from torch import nn

from accelerate.utils import DistributedType

from plait.core.trainer_imports import LengthGroupedSampler, Trainer
from plait.train.nonfinite import INDEX, NonFiniteGuard


PLAIN_CLIP = (DistributedType.NO, DistributedType.MULTI_CPU, DistributedType.MULTI_GPU)
"""Where gradient clipping is torch's clip over the local gradients (DDP has all-reduced them by then)."""


class PlaitTrainer(Trainer):
    """transformers' Trainer with plait's optimizer and schedule; with `lengths`, its group_by_length sampler
    uses them instead of encoding the data."""

    def __init__(self, *args: Any, make_optimizer: Callable[[torch.nn.Module], torch.optim.Optimizer],
                 make_scheduler: Callable[[torch.optim.Optimizer], Any], lengths: list[int] | None = None,
                 guard: NonFiniteGuard | None = None, distiller: Any = None,
                 sampler: torch.utils.data.Sampler | None = None,
                 batch_loss: Callable[[torch.nn.Module, dict[str, Any]], torch.Tensor] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clipped: list[torch.nn.Parameter] | None = None  # what _clip_grad_norm clips itself ([]: accelerate)
        self.distiller = distiller
        self.make_optimizer = make_optimizer
        self.make_scheduler = make_scheduler
        self.lengths = lengths
        self.guard = guard
        self.sampler = sampler  # a data mix's (see plait.data.mix): its order depends only on (seed, epoch)
        self.batch_loss = batch_loss  # a paired mix's loss over {source: batch} (see plait.data.mix.PairedLoss)

    def train(self, *args: Any, **kwargs: Any) -> Any:
        with steady_module_calls(self.model):
            return super().train(*args, **kwargs)

    def training_step(self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
                      ) -> torch.Tensor:
        indices = inputs.pop(INDEX, None)  # the model never sees the sample indices
        loss = super().training_step(model, inputs, num_items_in_batch)
        return loss if self.guard is None else self.guard.seen(indices, loss)

    def _clip_grad_norm(self, model: torch.nn.Module) -> Any:
        # the Trainer's one place where the pre-clip gradient norm exists before the optimizer steps
        # (transformers 5.24 _inner_training_loop; plait always clips, with max_grad_norm 1e9 for "off")
        if self._clipped is None:
            plain = self.accelerator.distributed_type in PLAIN_CLIP and not self._has_mixed_mesh_grads(model)
            self._clipped = [p for p in model.parameters() if p.requires_grad] if plain else []
        if self._clipped:
            # what accelerate's clip_grad_norm_ does for one process and DDP (unscale, then torch's clip), over
            # the trainable parameters listed once: it walks the whole model and compares parameter lists
            # every step otherwise (accelerate 1.15), a tenth of a small model's CPU step
            self.accelerator.unscale_gradients()
            norm = torch.nn.utils.clip_grad_norm_(self._clipped, self.args.max_grad_norm)
        else:
            norm = super()._clip_grad_norm(model)
        if self.guard is not None and self.guard.step(self.state.global_step + 1, norm):
            model.zero_grad(set_to_none=True)  # the optimizer skips parameters without a gradient
        return norm

    def create_optimizer(self, model: torch.nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            self.optimizer = self.make_optimizer(self.model if model is None else model)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None) -> Any:
        if self.lr_scheduler is None:
            self.lr_scheduler = self.make_scheduler(self.optimizer if optimizer is None else optimizer)
        return self.lr_scheduler

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None) -> Any:
        if self.batch_loss is not None and "input_ids" not in inputs:  # a paired mix: {source: batch}
            loss = self.batch_loss(model, inputs)  # a mean per source batch: the Trainer divides it by grad_accum
            return (loss, None) if return_outputs else loss
        if self.distiller is None or not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        # Trainer.compute_loss multiplies a loss normalised over the global batch by the ranks DDP averages over
        scale = 1
        if self.args.average_tokens_across_devices and self.model_accepts_loss_kwargs and num_items_in_batch is not None:
            scale = self.accelerator.num_processes // self.get_tp_size() if self.args.n_gpu <= 1 else self.args.n_gpu
        count = num_items_in_batch if self.model_accepts_loss_kwargs else None
        loss = self.distiller.loss(loss / scale, outputs, inputs, count, self.state.global_step) * scale
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        if self.sampler is not None:
            return self.sampler
        if self.lengths is None or self.args.train_sampling_strategy != "group_by_length":
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return SeededLengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                          self.lengths, seed)


LISTED = "_plait_listed_parameters"
"""The model attribute that holds its parameters while steady_module_calls is in force."""


@contextlib.contextmanager
def steady_module_calls(model: nn.Module) -> Iterator[None]:
    """Inside, `model.train()` returns at once when the model is in that mode already, and `model.zero_grad()`
    sets the gradients to None over the parameters listed on entry; both as torch's Module does otherwise.

    The Trainer puts the model in training mode before every micro-batch and zeroes its gradients after every
    optimizer step, each a walk over every submodule (torch 2.13 Module.train, Module.zero_grad). Within a
    training run modes change at the root only: evaluation calls `model.eval()` (which reaches the full walk,
    the mode being different) and the next step's `model.train()` walks back. The parameters do not change
    while the Trainer trains (LoRA and stages build theirs before). DDP's wrapper walks its children, this model
    among them, so it gets the same shortcut. Both are bound methods on the instance, so a copy made meanwhile
    (copy.deepcopy) rebinds them to itself, and both are removed on exit. torch offers neither shortcut; checked
    torch.nn.Module and accelerate's prepare_model (which wraps, and leaves these calls to the module).
    """
    setattr(model, LISTED, list(model.parameters()))
    model.train = types.MethodType(_train_unless_in_mode, model)
    model.zero_grad = types.MethodType(_zero_listed_grads, model)
    try:
        yield
    finally:
        for name in ("train", "zero_grad", LISTED):
            model.__dict__.pop(name, None)


def _train_unless_in_mode(self: nn.Module, mode: bool = True) -> nn.Module:
    return self if mode == self.training else type(self).train(self, mode)


def _zero_listed_grads(self: nn.Module, set_to_none: bool = True) -> None:
    if not set_to_none:
        return type(self).zero_grad(self, False)
    for param in self.__dict__[LISTED]:
        param.grad = None


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """LengthGroupedSampler whose order depends only on (seed, epoch): the same on every rank and after a resume."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by accelerate's data loader at the start of each epoch."""
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()
