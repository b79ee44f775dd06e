"""Learning-rate schedules: transformers' and torch's, with linear warmup in front."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim import lr_scheduler as sched

from plait.train.config import (
    ConstantSchedule,
    CosineSchedule,
    CyclicSchedule,
    ExponentialSchedule,
    LinearSchedule,
    OneCycleSchedule,
    StepSchedule,
)


HF_SCHEDULES = {ConstantSchedule: "constant_with_warmup", LinearSchedule: "linear", CosineSchedule: "cosine"}
"""Schedules transformers' get_scheduler provides; plait writes only the ones it lacks (one-cycle comes from torch,
cyclic/step/exponential are torch's with plait's warm-up in front)."""


def build_scheduler(optimizer: Optimizer, cfg, total_steps: int, lr: float) -> sched.LRScheduler:
    """The scheduler for `cfg`, stepped once per optimizer step over `total_steps`."""
    if isinstance(cfg, OneCycleSchedule):
        return sched.OneCycleLR(
            optimizer, max_lr=lr, total_steps=max(total_steps, 2), pct_start=cfg.pct_start,
            div_factor=cfg.div_factor, final_div_factor=cfg.final_div_factor, cycle_momentum=False,
        )
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    if type(cfg) in HF_SCHEDULES:
        from transformers import get_scheduler

        name, extra = HF_SCHEDULES[type(cfg)], {}
        if isinstance(cfg, CosineSchedule) and cfg.min_lr_ratio > 0:
            name, extra = "cosine_with_min_lr", {"min_lr_rate": cfg.min_lr_ratio}
        return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=max(total_steps, 1),
                             scheduler_specific_kwargs=extra)
    if isinstance(cfg, CyclicSchedule):
        main = sched.CyclicLR(
            optimizer, base_lr=lr * cfg.base_lr_ratio, max_lr=lr, step_size_up=cfg.half_cycle_steps,
            mode=cfg.mode, cycle_momentum=False,
        )
    elif isinstance(cfg, StepSchedule):
        main = sched.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    elif isinstance(cfg, ExponentialSchedule):
        main = sched.ExponentialLR(optimizer, gamma=cfg.gamma)
    else:
        raise TypeError(f"no scheduler for {type(cfg).__name__}")
    if warmup == 0:
        return main
    # the same ramp as transformers' warm-ups: 0 at the first step, the peak after `warmup` steps
    ramp = sched.LambdaLR(optimizer, lambda step: step / warmup)
    return sched.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
