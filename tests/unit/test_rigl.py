"""RigL: drop the smallest active weights, regrow as many at zero where the dense gradient is largest.

The Sparsifier callback is driven here step by step, as transformers' Trainer calls it, around a plain
AdamW loop on a small MLP; the Trainer-driven runs are in tests/integration/test_sparse_*.py.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import TrainerControl, TrainerState

import plait.train.sparsity.callback as callback_module
from plait.train.sparsity.callback import Sparsifier
from plait.train.sparsity.config import SparsityConfig
from plait.train.sparsity.rigl import apply_update, drop_and_grow


def test_drop_and_grow_by_hand():
    weight = torch.tensor([0.5, -0.1, 0.0, 0.0, 2.0, 0.0, 0.3, 0.0])
    mask = torch.tensor([True, True, False, False, True, False, True, False])
    score = torch.tensor([0.0, 9.0, 0.2, 5.0, 0.0, 0.1, 0.0, 3.0])
    update = drop_and_grow(weight, mask, score, 2)
    assert sorted(update.dropped.tolist()) == [1, 6]  # |-0.1| and |0.3|, the two smallest active
    # candidates: inactive after the drop, the just-dropped included (index 1, score 9, wins again)
    assert sorted(update.grown.tolist()) == [1, 3]
    assert update.mask.tolist() == [True, True, False, True, True, False, False, False]
    state = {"exp_avg": torch.ones(8), "step": torch.tensor(3.0)}
    apply_update(weight, update, state)
    assert weight.tolist() == [0.5, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]  # regrown index 1 restarts at zero
    assert state["exp_avg"].tolist() == [1, 0, 0, 0, 1, 0, 0, 0] and state["step"] == 3.0


def test_drop_zero_is_a_no_op():
    weight, mask = torch.randn(4, 4), torch.rand(4, 4) > 0.5
    update = drop_and_grow(weight, mask, torch.rand(4, 4), 0)
    assert torch.equal(update.mask, mask) and update.grown.numel() == 0


def drive(model, cfg, steps, spy=None, accum=2):
    """Train `model` for `steps` optimizer steps of `accum` micro-batches, calling the callback as the Trainer does;
    yield after every optimizer step."""
    torch.manual_seed(1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    sparsifier = Sparsifier(cfg, model, steps, run=None)
    state, control = TrainerState(), TrainerControl()
    sparsifier.on_train_begin(None, state, control, optimizer=optimizer)
    for _ in range(steps):
        sparsifier.on_step_begin(None, state, control)
        for _ in range(accum):
            x = torch.randn(16, 12)
            loss = (model(x) - x.sum(dim=1, keepdim=True).sin()).pow(2).mean()
            loss.backward()
        optimizer.step()
        sparsifier.on_optimizer_step(None, state, control)
        yield sparsifier
        optimizer.zero_grad()
        state.global_step += 1


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 1))


def test_every_update_keeps_the_exact_count_drops_the_smallest_and_regrows_at_zero(monkeypatch):
    seen = []
    original = callback_module.drop_and_grow

    def spy(weight, mask, score, n):
        update = original(weight, mask, score, n)
        seen.append((weight.detach().clone(), mask.clone(), score.clone(), update))
        return update

    monkeypatch.setattr(callback_module, "drop_and_grow", spy)
    cfg = SparsityConfig(target=0.8, method="rigl", update_every=3, stop_at=0.8, drop_fraction=0.5,
                         distribution="erk")
    model = mlp()
    updates = 0
    for step, sparsifier in enumerate(drive(model, cfg, 20), start=1):
        masks = sparsifier.masks.masks
        for name, param in sparsifier.params.items():
            assert int((param != 0).sum()) <= sparsifier.counts[name]
            assert int(masks[name].sum()) == sparsifier.counts[name], f"step {step}: {name}"
            assert not param[~masks[name]].any(), f"step {step}: {name} has non-zeros outside its mask"
        total = sum(int(m.sum()) for m in masks.values())
        assert total == round(0.2 * sum(p.numel() for p in sparsifier.params.values()))
        if seen:
            updates += 1
            for weight, mask, score, update in seen:
                if update.dropped.numel() == 0:
                    continue
                flat_w, flat_m = weight.flatten().abs(), mask.flatten()
                # the dropped are the smallest-magnitude active weights
                kept_after_drop = flat_m.clone()
                kept_after_drop[update.dropped] = False
                assert flat_w[update.dropped].max() <= flat_w[kept_after_drop].min()
                # the grown have the largest dense gradient among the inactive ones after the drop
                inactive = ~kept_after_drop
                others = inactive.clone()
                others[update.grown] = False
                if others.any():
                    assert score.flatten()[update.grown].min() >= score.flatten()[others].max()
            # regrown at zero at the moment of regrowth: in the weights right after the update
            for (_, _, _, update), param in zip(seen, sparsifier.params.values()):
                assert not param.detach().flatten()[update.grown].any()
            seen.clear()
    assert updates == 5  # steps 3, 6, 9, 12, 15 (stop_at 0.8 x 20 = 16)


def test_masked_weights_stay_zero_through_optimizer_steps_with_weight_decay_and_momentum():
    cfg = SparsityConfig(target=0.9)
    model = mlp()
    first = None
    for sparsifier in drive(model, cfg, 8):
        masks = {n: m.clone() for n, m in sparsifier.masks.masks.items()}
        first = first or masks
        for name, param in sparsifier.params.items():
            assert torch.equal(masks[name], first[name])  # static: the pattern never moves
            assert not param[~masks[name]].any()
            assert not param.grad[~masks[name]].any()  # gradients were masked too, before the step


def test_static_masks_come_from_magnitude_at_the_start():
    model = mlp()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    sparsifier = next(drive(model, SparsityConfig(target=0.5), 1))
    for name, mask in sparsifier.masks.masks.items():
        w = before[name].abs()
        assert w[mask].min() >= w[~mask].max()


def test_an_update_with_a_non_finite_gradient_keeps_the_masks():
    cfg = SparsityConfig(target=0.8, method="rigl", update_every=1, stop_at=1.0, drop_fraction=0.5)
    model = mlp()
    sparsifier = Sparsifier(cfg, model, 10, run=None)
    state, control = TrainerState(), TrainerControl()
    sparsifier.on_train_begin(None, state, control, optimizer=None)
    before = {n: m.clone() for n, m in sparsifier.masks.masks.items()}
    sparsifier.on_step_begin(None, state, control)
    model(torch.full((2, 12), float("nan"))).sum().backward()
    sparsifier.on_optimizer_step(None, state, control)
    assert all(torch.equal(before[n], m) for n, m in sparsifier.masks.masks.items())
