"""plait's Trainer clips gradients itself for one process and DDP: the same norms and losses as accelerate's
clip_grad_norm_, which the Trainer uses otherwise."""

from __future__ import annotations

import json

import pytest

import plait.train.trainer as trainer_module
from plait.cli import main
from tiny import write_experiment


def curves(folder) -> tuple[list[float], list[float]]:
    spec = write_experiment(folder, "tiny", **{"train.max_steps": 6, "train.log_every": 1, "train.max_grad_norm": 0.05})
    assert main(["run", str(spec), "--no-progress"]) == 0
    [run] = (folder / "runs" / "tiny").iterdir()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("split") == "train" and "loss" in r]
    return [r["loss"] for r in train], [r["grad_norm"] for r in train]


def test_own_clip_equals_accelerates(tmp_path, monkeypatch):
    (tmp_path / "own").mkdir()
    (tmp_path / "accelerate").mkdir()
    own = curves(tmp_path / "own")
    monkeypatch.setattr(trainer_module, "PLAIN_CLIP", ())  # every run through accelerate's clip_grad_norm_
    theirs = curves(tmp_path / "accelerate")
    assert len(own[0]) == 6 and max(own[1]) > 0.05  # the clip was active
    assert own == theirs
