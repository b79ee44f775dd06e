"""The Distiller: called by plait's Trainer inside its loss computation, it runs the teacher on the same batch
and mixes the soft loss into the student's."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from plait.train.distill.config import DistillConfig, value_at
from plait.train.distill.loss import mixed_loss
from plait.train.distill.teacher import label_shift, load_teacher


class Distiller:
    """The teacher, the schedules of T and kd_factor, and the student's label alignment."""

    def __init__(self, cfg: DistillConfig, teacher: nn.Module, shift: int, steps: int, vocab: int) -> None:
        self.cfg = cfg
        self.teacher = teacher
        self.shift = shift
        self.steps = steps
        self.vocab = vocab
        """Tokens of the shared tokenizer: both models' logits must cover them."""

    @classmethod
    def build(cls, cfg: DistillConfig, model: nn.Module, tokenizer: Any, steps: int) -> "Distiller":
        """The teacher named by `cfg`, loaded and checked for the student `model` and its tokenizer."""
        teacher = load_teacher(cfg.teacher, model, tokenizer)
        return cls(cfg, teacher, label_shift(model), steps, len(tokenizer))

    def schedule(self, step: int) -> tuple[float, float]:
        """(temperature, kd_factor) at optimizer step `step`."""
        return value_at(self.cfg.temperature, step, self.steps), value_at(self.cfg.kd_factor, step, self.steps)

    def loss(self, hard: torch.Tensor, outputs: Any, inputs: dict[str, Any], count: torch.Tensor | int | None,
             step: int) -> torch.Tensor:
        """The mixed loss of one micro-batch whose student `outputs` gave the loss `hard`."""
        teacher_inputs = {k: v for k, v in inputs.items() if k not in ("labels", "num_items_in_batch")}
        device = hard.device
        if next(self.teacher.parameters()).device != device:
            self.teacher.to(device)
        with torch.no_grad():
            teacher_logits = self.teacher(**teacher_inputs).logits
        student_logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        smallest = min(student_logits.shape[-1], teacher_logits.shape[-1])
        if student_logits.ndim == 3 and smallest < self.vocab:
            raise ValueError(f"train.distill: logits over {student_logits.shape[-1]} (student) and "
                             f"{teacher_logits.shape[-1]} (teacher) entries; both must cover the tokenizer's {self.vocab}")
        temperature, kd_factor = self.schedule(step)
        return mixed_loss(hard, student_logits, teacher_logits, inputs["labels"], self.shift, temperature,
                          kd_factor, self.cfg.loss, count)
