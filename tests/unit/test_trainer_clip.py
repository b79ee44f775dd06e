"""plait's Trainer clips gradients itself for one process and DDP: the same norms and losses as accelerate's
clip_grad_norm_, which the Trainer uses otherwise."""

from __future__ import annotations

import plait.train.trainer as trainer_module
from tiny import tiny_run_curve

CLIPPED = {"train.max_steps": 6, "train.log_every": 1, "train.max_grad_norm": 0.05}


def test_own_clip_equals_accelerates(tmp_path, monkeypatch):
    own = tiny_run_curve(tmp_path / "own", **CLIPPED)
    monkeypatch.setattr(trainer_module, "PLAIN_CLIP", ())  # every run through accelerate's clip_grad_norm_
    theirs = tiny_run_curve(tmp_path / "accelerate", **CLIPPED)
    assert len(own) == 6 and max(norm for _, _, norm in own) > 0.05  # the clip was active
    assert own == theirs
