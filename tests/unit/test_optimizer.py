"""train.optimizer: fused AdamW by default where torch has the kernel; every implementation takes the same steps."""

from __future__ import annotations

import torch

from plait.train.config import TrainConfig
from plait.train.loop import make_optimizer


def trained(kind: str) -> tuple[torch.optim.Optimizer, list[float]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LayerNorm(16), torch.nn.Linear(16, 1))
    optimizer = make_optimizer(model, TrainConfig(optimizer=kind, lr=1e-2, weight_decay=0.1))
    data = torch.randn(32, 8)
    losses = []
    for _ in range(20):
        loss = model(data).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    return optimizer, losses


def test_auto_is_fused_on_cpu_and_decay_skips_1d_tensors():
    optimizer, _ = trained("auto")
    assert all(group["fused"] for group in optimizer.param_groups)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    assert all(p.ndim < 2 for p in optimizer.param_groups[1]["params"])


def test_implementations_follow_the_same_curve():
    _, fused = trained("adamw_fused")
    _, foreach = trained("adamw_foreach")
    _, loop = trained("adamw")
    torch.testing.assert_close(torch.tensor(fused), torch.tensor(loop), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(torch.tensor(foreach), torch.tensor(loop), rtol=1e-5, atol=1e-7)
    assert fused[-1] < fused[0] / 2
