"""How the ranks of a multi-process run share the model: DDP or DeepSpeed (ZeRO 1-2), passed to the Trainer.

transformers and accelerate do the distribution; plait only turns `train.distributed` into TrainingArguments
keywords (`distributed_arguments`). Whatever splits parameters themselves (FSDP, ZeRO-3) is refused with the
reason. Nothing here imports torch or transformers, so configs validate fast.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from plait.core.strict import Strict
from plait.core.fields import FilePath


class DdpConfig(Strict):
    """Data parallel: every rank holds the whole model (torch DistributedDataParallel; gloo on CPU)."""

    kind: Literal["ddp"] = "ddp"
    """Distribution kind (the discriminator)."""
    find_unused_parameters: bool = True
    """Let DDP skip parameters that get no gradient (e.g. an unused vision pooler); False is a little faster
    when every trainable parameter gets one, and fails when one does not."""


class FsdpConfig(Strict):
    """Fully sharded data parallel: refused for now, with the reason (see _refused)."""

    kind: Literal["fsdp"]
    """Distribution kind (the discriminator)."""

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, data: Any) -> Any:
        # FSDP splits every parameter across ranks, but plait validates, evaluates and saves on rank 0 alone,
        # which needs whole parameters: the other ranks would wait in all-gathers rank 0 never joins
        raise ValueError("kind: fsdp is not supported yet (plait evaluates and saves on rank 0, which needs whole "
                         "parameters, and FSDP splits them); shard optimizer state and gradients with kind: "
                         "deepspeed (ZeRO stage 1 or 2), or use kind: ddp")


class DeepSpeedConfig(Strict):
    """DeepSpeed (ZeRO stages, offload), configured by a DeepSpeed JSON; needs `pip install deepspeed`."""

    kind: Literal["deepspeed"]
    """Distribution kind (the discriminator)."""
    config: dict[str, Any] | FilePath
    """A DeepSpeed JSON file (relative to the experiment file) or the same settings inline; "auto" values are
    filled in from `train` by transformers."""

    @field_validator("kind")
    @classmethod
    def _installed(cls, kind: str) -> str:
        if importlib.util.find_spec("deepspeed") is None:
            raise ValueError("deepspeed is not installed; pip install deepspeed (or use kind: ddp)")
        return kind

    @field_validator("config")
    @classmethod
    def _readable(cls, config: dict[str, Any] | Path) -> dict[str, Any] | Path:
        if isinstance(config, dict):
            return config
        if not config.is_file():
            raise ValueError(f"DeepSpeed config file {config} not found; give a JSON file or the settings inline")
        try:
            settings = json.loads(config.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{config} is not valid JSON ({err})") from None
        _check_stage(settings, str(config))
        return config

    @field_validator("config")
    @classmethod
    def _inline_stage(cls, config: dict[str, Any] | Path) -> dict[str, Any] | Path:
        if isinstance(config, dict):
            _check_stage(config, "the inline settings")
        return config


def _check_stage(settings: dict[str, Any], where: str) -> None:
    """Refuse ZeRO stage 3, which splits parameters (the reason is FsdpConfig's)."""
    stage = (settings.get("zero_optimization") or {}).get("stage", 0)
    if stage == 3:
        raise ValueError(f"{where}: zero_optimization.stage 3 splits parameters, and plait evaluates and saves on "
                         "rank 0, which needs them whole; use stage 1 or 2")


Distributed = Annotated[Union[DdpConfig, FsdpConfig, DeepSpeedConfig], Field(discriminator="kind")]


def distributed_arguments(cfg: DdpConfig | DeepSpeedConfig, world_size: int, cpu: bool) -> dict[str, Any]:
    """TrainingArguments keywords for `cfg` with `world_size` processes (`cpu`: no accelerator)."""
    backend = {"ddp_backend": "gloo" if world_size > 1 and cpu else None}
    if isinstance(cfg, DdpConfig):
        return {**backend, "ddp_find_unused_parameters": cfg.find_unused_parameters if world_size > 1 else None}
    return {**backend, "deepspeed": str(cfg.config) if isinstance(cfg.config, Path) else dict(cfg.config)}
