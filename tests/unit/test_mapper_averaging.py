"""Checkpoint averaging: the mean of the last N complete checkpoints, tied weights included."""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors.torch
import torch
from pydantic import ValidationError
from torch import nn

from plait.runs import atomic
from plait.runs.rundir import COMPLETE_MARKER, RunDir
from plait.train.averaging import average_into, average_last_checkpoints
from plait.train.config import TrainConfig


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(4, 3)
        self.head = nn.Linear(3, 4, bias=False)
        self.head.weight = self.embed.weight
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))


def checkpoint(run: RunDir, step: int, value: float, complete: bool = True) -> Path:
    folder = run.checkpoints / f"step-{step}"
    folder.mkdir(parents=True)
    weights = {"embed.weight": torch.full((4, 3), value), "steps": torch.tensor(step)}
    safetensors.torch.save_file(weights, str(folder / "model.safetensors"))  # the alias head.weight is left out
    if complete:
        atomic.write_json(folder / COMPLETE_MARKER, {"step": step})
    return folder


def test_last_n_complete_checkpoints_are_averaged(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    for step, value in ((2, 100.0), (9, 1.0), (10, 2.0), (11, 3.0)):
        checkpoint(run, step, value)
    checkpoint(run, 12, 50.0, complete=False)
    model = Tied()
    assert average_last_checkpoints(run, model, 3) == [9, 10, 11]  # numeric order; incomplete step-12 ignored
    torch.testing.assert_close(model.embed.weight.data, torch.full((4, 3), 2.0))
    assert model.head.weight is model.embed.weight
    assert int(model.steps) == 11  # integer tensors come from the newest checkpoint


def test_no_checkpoints_leaves_the_model_alone(tmp_path: Path) -> None:
    model = Tied()
    before = model.embed.weight.detach().clone()
    assert average_last_checkpoints(RunDir(tmp_path), model, 2) == []
    torch.testing.assert_close(model.embed.weight.data, before)


def test_checkpoints_that_do_not_match_the_model_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "step-1"
    folder.mkdir()
    safetensors.torch.save_file({"other.weight": torch.zeros(2)}, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match="do not match the model"):
        average_into(Tied(), [folder])


def test_config_checks_name_the_conflict() -> None:
    with pytest.raises(ValidationError, match="average_checkpoints and select_best"):
        TrainConfig(average_checkpoints=2, select_best=True, eval_every=10)
    with pytest.raises(ValidationError, match="needs keep_checkpoints >= 4"):
        TrainConfig(average_checkpoints=3, eval_every=10, keep_checkpoints=3)
    with pytest.raises(ValidationError, match="set save_every or eval_every"):
        TrainConfig(average_checkpoints=2)
    assert TrainConfig(average_checkpoints=3, save_every=5, keep_checkpoints=3).average_checkpoints == 3
