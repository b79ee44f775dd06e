"""Learning-rate schedules: shapes, warmup, and the values at known steps."""

from __future__ import annotations

import pytest
import torch

from plait.train.config import TrainConfig
from plait.train.schedules import build_scheduler


def curve(schedule: dict, steps: int = 100, lr: float = 1.0) -> list[float]:
    cfg = TrainConfig(schedule=schedule, lr=lr)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = build_scheduler(opt, cfg.schedule, steps, lr)
    values = []
    for _ in range(steps):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return values


def test_constant_with_warmup():
    values = curve({"kind": "constant", "warmup_steps": 10})
    assert values[0] == 0.0 and values[5] == pytest.approx(0.5)  # warm-up from 0, as its docstring says
    assert values[5] < values[9] < 1.0
    assert values[10:] == pytest.approx([1.0] * 90)


def test_linear_and_cosine_reach_their_floor():
    linear = curve({"kind": "linear"})
    assert linear[0] == 1.0 and linear[50] == pytest.approx(0.5) and linear[-1] == pytest.approx(0.01)
    cosine = curve({"kind": "cosine", "min_lr_ratio": 0.1})
    assert cosine[0] == 1.0 and cosine[50] == pytest.approx(0.55) and cosine[-1] == pytest.approx(0.1, abs=1e-3)


def test_step_and_exponential_decay():
    step = curve({"kind": "step", "step_size": 25, "gamma": 0.5})
    assert step[24] == 1.0 and step[25] == 0.5 and step[75] == 0.125
    exp = curve({"kind": "exponential", "gamma": 0.9})
    assert exp[10] == pytest.approx(0.9 ** 10)


def test_cyclic_rises_and_falls():
    values = curve({"kind": "cyclic", "half_cycle_steps": 10, "base_lr_ratio": 0.1})
    assert values[0] == pytest.approx(0.1)
    assert values[10] == pytest.approx(1.0)
    assert values[20] == pytest.approx(0.1)
    assert values[30] == pytest.approx(1.0)


def test_one_cycle_peaks_at_pct_start():
    values = curve({"kind": "one_cycle", "pct_start": 0.3})
    peak = max(range(100), key=values.__getitem__)
    assert 28 <= peak <= 31 and values[peak] == pytest.approx(1.0, abs=1e-3)
    assert values[0] == pytest.approx(1 / 25) and values[-1] < values[0]


def test_warmup_then_decay_matches_transformers_get_scheduler():
    from transformers import get_scheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = get_scheduler("linear", opt, num_warmup_steps=10, num_training_steps=100)
    expected = []
    for _ in range(100):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        reference.step()
    assert curve({"kind": "linear", "warmup_steps": 10}) == expected


def test_torch_schedules_get_the_same_warmup_ramp():
    step = curve({"kind": "step", "step_size": 25, "gamma": 0.5, "warmup_steps": 4})
    assert step[:5] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
