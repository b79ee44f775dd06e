"""While plait's Trainer trains, the model's train() and zero_grad() skip their walk over every module; the modes,
gradients and training curves are those of torch's own calls."""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

import plait.train.trainer as trainer_module
from plait.train.trainer import steady_module_calls
from tiny import tiny_run_curve


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Sequential(nn.Linear(8, 2), nn.Dropout(0.5)))


def modes(module: nn.Module) -> set[bool]:
    return {m.training for m in module.modules()}


def test_modes_switch_at_the_root_as_torchs_train_and_eval_do():
    net = model().eval()
    with steady_module_calls(net):
        assert net.train() is net and modes(net) == {True}  # a change of mode walks every module
        net.eval()
        assert modes(net) == {False}
        net.train()
        assert modes(net) == {True}
        net[1].eval()  # a submodule switched on its own: the root's unchanged mode is not walked again
        net.train()
        assert not net[1].training
    net.train()  # torch's own call again after the context
    assert modes(net) == {True}
    assert "train" not in net.__dict__ and "zero_grad" not in net.__dict__
    assert net.train.__func__ is nn.Module.train and net.zero_grad.__func__ is nn.Module.zero_grad


def test_zero_grad_clears_every_gradient_and_can_still_zero_in_place():
    net = model().train()
    with steady_module_calls(net):
        net(torch.ones(3, 4)).sum().backward()
        assert all(p.grad is not None for p in net.parameters())
        net.zero_grad()
        assert all(p.grad is None for p in net.parameters())
        net(torch.ones(3, 4)).sum().backward()
        net.zero_grad(set_to_none=False)
        assert all(p.grad is not None and not p.grad.any() for p in net.parameters())


def test_a_copy_made_while_training_has_its_own_calls():
    net = model().train()
    with steady_module_calls(net):
        twin = copy.deepcopy(net)
        twin.eval()
        assert modes(twin) == {False} and modes(net) == {True}
        twin(torch.ones(1, 4)).sum().backward()
        net(torch.ones(1, 4)).sum().backward()
        twin.zero_grad()
        assert all(p.grad is None for p in twin.parameters()) and all(p.grad is not None for p in net.parameters())


def test_training_with_dropout_and_evaluation_on_the_way_gives_the_same_curve(tmp_path, monkeypatch):
    # dropout makes a step taken in the wrong mode visible in the loss; validation every 2 steps puts the model
    # in evaluation mode and back
    updates = {"model.language.config.attention_dropout": 0.3, "train.max_steps": 6, "train.log_every": 1, "train.eval_every": 2}
    steady = tiny_run_curve(tmp_path / "steady", **updates)
    monkeypatch.setattr(trainer_module, "steady_module_calls", lambda model: contextlib.nullcontext())
    walked = tiny_run_curve(tmp_path / "walked", **updates)
    assert len(steady) == 6 and steady == walked
