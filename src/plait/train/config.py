"""Config of the train section: optimisation, schedule, precision, checkpoints, early stopping."""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from plait.core.strict import Strict
from plait.core.fields import FolderName
from plait.train.distill.config import DistillConfig
from plait.train.distributed import DdpConfig, Distributed
from plait.train.sparsity.config import SparsityConfig


TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
"""The package each `train.report_to` tracker needs (all in the `track` extra)."""


class _Warmup(Strict):
    warmup_steps: int = Field(0, ge=0)
    """Linear warmup from 0 over this many optimizer steps."""


class ConstantSchedule(_Warmup):
    """Constant learning rate after warmup."""

    kind: Literal["constant"] = "constant"
    """Schedule kind (the discriminator)."""


class LinearSchedule(_Warmup):
    """Linear decay to zero at the last step."""

    kind: Literal["linear"] = "linear"
    """Schedule kind (the discriminator)."""


class CosineSchedule(_Warmup):
    """Cosine decay to `min_lr_ratio` x lr at the last step."""

    kind: Literal["cosine"] = "cosine"
    """Schedule kind (the discriminator)."""
    min_lr_ratio: float = Field(0.0, ge=0.0, le=1.0)
    """Final learning rate as a fraction of the peak."""


class OneCycleSchedule(Strict):
    """One-cycle: up to lr over `pct_start` of training, then down (torch OneCycleLR)."""

    kind: Literal["one_cycle"] = "one_cycle"
    """Schedule kind (the discriminator)."""
    pct_start: float = Field(0.3, gt=0.0, lt=1.0)
    """Fraction of steps spent increasing the learning rate."""
    div_factor: float = Field(25.0, gt=0.0)
    """Initial lr = lr / div_factor."""
    final_div_factor: float = Field(1e4, gt=0.0)
    """Final lr = initial lr / final_div_factor."""


class CyclicSchedule(_Warmup):
    """Cyclical (triangular) learning rate between `base_lr_ratio` x lr and lr (torch CyclicLR)."""

    kind: Literal["cyclic"] = "cyclic"
    """Schedule kind (the discriminator)."""
    half_cycle_steps: int = Field(100, ge=1)
    """Steps from the lowest to the highest learning rate."""
    base_lr_ratio: float = Field(0.1, gt=0.0, le=1.0)
    """Lowest learning rate as a fraction of lr."""
    mode: Literal["triangular", "triangular2", "exp_range"] = "triangular"
    """CyclicLR mode."""


class StepSchedule(_Warmup):
    """Step decay: multiply the learning rate by `gamma` every `step_size` steps (torch StepLR)."""

    kind: Literal["step"] = "step"
    """Schedule kind (the discriminator)."""
    step_size: int = Field(100, ge=1)
    """Optimizer steps between decays."""
    gamma: float = Field(0.5, gt=0.0, le=1.0)
    """Decay factor."""


class ExponentialSchedule(_Warmup):
    """Exponential decay: multiply the learning rate by `gamma` every step (torch ExponentialLR)."""

    kind: Literal["exponential"] = "exponential"
    """Schedule kind (the discriminator)."""
    gamma: float = Field(0.999, gt=0.0, le=1.0)
    """Per-step decay factor."""


Schedule = Annotated[
    Union[
        ConstantSchedule,
        LinearSchedule,
        CosineSchedule,
        OneCycleSchedule,
        CyclicSchedule,
        StepSchedule,
        ExponentialSchedule,
    ],
    Field(discriminator="kind"),
]


class EarlyStopping(Strict):
    """Stop when the validation metric has not improved for `patience` evaluations."""

    patience: int = Field(5, ge=1)
    """Evaluations without improvement before stopping."""
    min_delta: float = Field(0.0, ge=0.0)
    """Smallest change that counts as an improvement."""


class TrainConfig(Strict):
    """Optimisation, schedule, precision, checkpoints and early stopping."""

    epochs: float = Field(1.0, gt=0, allow_inf_nan=False)
    """Training epochs (ignored when max_steps > 0)."""
    max_steps: int = Field(-1, ge=-1, lt=2**31)
    """Optimizer steps to train for (-1 = use epochs; below 2^31)."""
    batch_size: int = Field(16, ge=1)
    """Samples per device per forward pass."""
    grad_accum: int = Field(1, ge=1)
    """Forward passes per optimizer step."""
    lr: float = Field(1e-4, gt=0, allow_inf_nan=False)
    """Peak learning rate (finite)."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay (not applied to biases and norms)."""
    adam_betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    keep_encoded_mb: int = Field(1024, ge=0)
    """Keep encoded training samples (token ids, pixels, features) in memory after their first use, up to this
    many MiB, so later epochs skip tokenising and media processing (0 = encode on every access)."""
    encode_ahead: bool = True
    """Encode the training samples before the first step, in batches, as far as keep_encoded_mb holds them
    (one process; with --nproc each rank encodes its own samples as it reads them), so no training step waits
    for tokenising or media processing; false: encode during the first epoch."""
    optimizer: Literal["auto", "adamw_fused", "adamw_foreach", "adamw"] = "auto"
    """AdamW implementation (torch's): adamw_fused (one kernel for every parameter; the Trainer's default),
    adamw_foreach (batched per tensor list), adamw (a loop per tensor); auto = fused where torch has the
    kernel for the parameters' device and dtype (CPU and CUDA float tensors), else foreach."""
    max_grad_norm: float = Field(1.0, ge=0, allow_inf_nan=False)
    """Gradient clipping norm (0 = off)."""
    skip_nonfinite: bool = False
    """A batch whose loss or gradient norm is not finite is skipped (no weight changes; counted in status.json
    `nonfinite_skipped`) instead of failing the run with its step and sample ids."""
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    """Label smoothing of the token loss."""
    schedule: Schedule = ConstantSchedule()
    """Learning-rate schedule."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Training precision; bf16/fp16 need a device that supports them."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass to save memory."""
    num_workers: int = Field(0, ge=0)
    """DataLoader worker processes."""
    padding_free: bool = False
    """Lay each batch's sequences end to end in one row, positions restarting per sequence, instead of padding
    them to the longest (decoder-only families; the loss per token is the padded batch's)."""
    group_by_length: bool = False
    """Draw batches of samples of similar length, with some randomness (transformers' LengthGroupedSampler):
    less padding, but batches are no longer a uniform shuffle."""
    log_every: int = Field(10, ge=1)
    """Log training loss and learning rate every N optimizer steps."""
    eval_every: int = Field(-1, ge=-1)
    """Evaluate on the validation split every N optimizer steps (-1 = only at the end)."""
    save_every: int = Field(-1, ge=-1)
    """Write a checkpoint every N optimizer steps (-1 = at each evaluation, or never without evaluation)."""
    keep_checkpoints: int = Field(2, ge=1)
    """Complete checkpoints kept on disk (the best one is always kept too)."""
    save_init: bool = False
    """Write the weights as built, before any step, to init.safetensors (plait repro turns this on)."""
    select_best: bool = False
    """Reload the checkpoint with the best validation metric at the end."""
    average_checkpoints: int | None = Field(None, ge=2)
    """Before the final evaluation, load the mean of the last N complete checkpoints (None = off)."""
    metric: str = "loss"
    """Validation metric for best-model selection and early stopping ('loss' or an evaluation metric)."""
    early_stopping: EarlyStopping | None = None
    """Early stopping on `metric` (needs eval_every > 0)."""
    distributed: Distributed = DdpConfig()
    """How the ranks of a multi-process run (`plait run EXP --nproc N`) share the model: ddp or deepspeed."""
    sparsity: SparsityConfig | None = None
    """Hold a share of the weights at zero, fixed or moved by RigL (None = dense)."""
    distill: DistillConfig | None = None
    """Distil a frozen teacher into the model (None = train on the labels alone)."""
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] = []
    """Experiment trackers that get the run's metrics (training, validation, test), resolved config and run
    directory: tensorboard (event files in <run>/tensorboard), wandb, mlflow; a name or a list; none = [] (off).
    W&B and MLflow read their usual environment (WANDB_MODE=offline, WANDB_PROJECT, MLFLOW_TRACKING_URI)."""

    @field_validator("report_to", mode="before")
    @classmethod
    def _report_to_list(cls, value: Any) -> Any:
        if value is None or value == "none" or value == ["none"]:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("report_to")
    @classmethod
    def _trackers_installed(cls, value: list[str]) -> list[str]:
        missing = [name for name in value if importlib.util.find_spec(TRACKER_PACKAGES[name]) is None]
        if missing:
            raise ValueError(f"{', '.join(missing)} not installed; pip install 'plait[track]' "
                             f"(or {' '.join(TRACKER_PACKAGES[m] for m in missing)})")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _checks(self) -> "TrainConfig":
        if self.sparsity is not None and self.distributed.kind == "deepspeed":
            raise ValueError("sparsity: needs distributed.kind ddp (DeepSpeed partitions the gradients it masks)")
        if self.sparsity is not None and self.sparsity.method == "rigl" and self.average_checkpoints is not None:
            raise ValueError("average_checkpoints: the mean of checkpoints with different RigL masks is not sparse")
        if self.early_stopping is not None and self.eval_every <= 0:
            raise ValueError("early_stopping needs eval_every > 0 (evaluations to compare)")
        if self.average_checkpoints is not None:
            n = self.average_checkpoints
            if self.select_best:
                raise ValueError("average_checkpoints and select_best both choose the final weights; set one")
            if self.save_every <= 0 and self.eval_every <= 0:
                raise ValueError(f"average_checkpoints: {n} needs checkpoints: set save_every or eval_every > 0")
            needed = n + (1 if self.eval_every > 0 else 0)  # rotation also keeps the best, maybe an old one
            if self.keep_checkpoints < needed:
                raise ValueError(f"average_checkpoints: {n} needs keep_checkpoints >= {needed} "
                                 f"(the last {n}, plus the best one kept when evaluating); it is {self.keep_checkpoints}")
        return self


class StageConfig(Strict):
    """One stage: which parts train, and how (the experiment's `train` with this stage's keys replacing its own)."""

    name: FolderName
    """Stage name, recorded in metrics.jsonl and status.json (letters, digits, '.', '_', '-')."""
    trainable: list[str] = Field(min_length=1)
    """Parts trained in this stage (projector family: vision, projector, language, lora); the rest stay fixed."""
    train: TrainConfig = TrainConfig()
    """Optimisation of this stage: every key given replaces the experiment's `train` key of the same name."""



def resolve_stage_train(data: Any) -> Any:
    """Before validation: each stage's `train` becomes the experiment's `train` with the stage's keys on top."""
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        return data
    base = data.get("train") or {}
    if not isinstance(base, dict):
        return data
    stages = [
        {**stage, "train": {**base, **(stage.get("train") or {})}} if isinstance(stage, dict) else stage
        for stage in data["stages"]
    ]
    return {**data, "stages": stages}
