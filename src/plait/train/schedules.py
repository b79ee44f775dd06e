"""Learning-rate schedules: transformers' and torch's, with linear warmup in front."""

from __future__ import annotations

import math

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


def build_scheduler(optimizer: Optimizer, cfg, total_steps: int, lr: float) -> sched.LRScheduler:
    """The scheduler for `cfg`, stepped once per optimizer step over `total_steps`."""
    if isinstance(cfg, OneCycleSchedule):
        return sched.OneCycleLR(
            optimizer, max_lr=lr, total_steps=max(total_steps, 2), pct_start=cfg.pct_start,
            div_factor=cfg.div_factor, final_div_factor=cfg.final_div_factor, cycle_momentum=False,
        )
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    rest = max(total_steps - warmup, 1)
    if isinstance(cfg, ConstantSchedule):
        main = sched.LambdaLR(optimizer, lambda step: 1.0)
    elif isinstance(cfg, LinearSchedule):
        main = sched.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / rest))
    elif isinstance(cfg, CosineSchedule):
        floor = cfg.min_lr_ratio
        main = sched.LambdaLR(
            optimizer, lambda step: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step, rest) / rest))
        )
    elif isinstance(cfg, CyclicSchedule):
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
    ramp = sched.LinearLR(optimizer, start_factor=1.0 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    return sched.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
