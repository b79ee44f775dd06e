"""Config of train.distill: the teacher, the temperature and the soft/hard mix (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from plait.core.checkpoints import checkpoint_problem
from plait.core.strict import Strict


class LinearDecay(Strict):
    """A value moving linearly from `start` at step 0 to `end` at the last optimizer step."""

    start: float
    """Value at step 0."""
    end: float
    """Value at the last step."""


Value = float | LinearDecay


def value_at(value: Value, step: int, steps: int) -> float:
    """The value at optimizer step `step` of `steps` (a constant, or linear from start to end)."""
    if isinstance(value, LinearDecay):
        return value.start + (value.end - value.start) * min(step / max(steps, 1), 1.0)
    return float(value)


def _ends(value: Value) -> list[float]:
    return [value.start, value.end] if isinstance(value, LinearDecay) else [value]


class DistillConfig(Strict):
    """Distil a frozen teacher into the model being trained.

    loss = (1 - kd_factor) x hard + kd_factor x T^2 x soft, where hard is the model's own loss and soft is,
    per target position (labels != -100; the whole example for a classification head), KL(p_T || q_T) (`kl`)
    or -sum p_T log q_T (`soft_ce`), with p_T = softmax(teacher logits / T) and q_T = softmax(student logits / T),
    normalised like the hard loss (per target token of the global batch). T^2 keeps the soft gradients' scale
    independent of T (Hinton et al. 2015). Numenta's KDLoss differs: it mixes the one-hot target into p and
    does not divide the student's logits by T, nor multiply by T^2.
    """

    teacher: str
    """A plait run directory (its saved model; same family as the student), a saved model folder, or a
    transformers checkpoint (a folder or hub name, for students that are transformers models). The teacher is
    frozen and in eval mode; its tokenizer must be the student's (same token ids)."""
    temperature: Value = 1.0
    """Softmax temperature T (> 0): a constant, or {start, end} for a linear change over training."""
    kd_factor: Value = 0.5
    """Weight of the soft loss, in [0, 1] (1 = teacher only): a constant, or {start, end} decayed linearly."""
    loss: Literal["kl", "soft_ce"] = "kl"
    """Soft loss: KL divergence, or soft cross-entropy (KL plus the teacher's entropy: same gradients)."""

    @field_validator("temperature")
    @classmethod
    def _positive(cls, value: Value) -> Value:
        if any(t <= 0 for t in _ends(value)):
            raise ValueError("must be > 0 (start and end too, when it changes linearly)")
        return value

    @field_validator("kd_factor")
    @classmethod
    def _share(cls, value: Value) -> Value:
        if any(not 0.0 <= k <= 1.0 for k in _ends(value)):
            raise ValueError("must be in [0, 1] (start and end too, when it changes linearly)")
        return value

    def teacher_problem(self, key: str = "train.distill.teacher") -> str | None:
        """Why the teacher cannot be found before anything is built (plait.core.checkpoints), or None."""
        return checkpoint_problem(self.teacher, key, "give a plait run directory, a saved model folder or a "
                                  "transformers checkpoint")
