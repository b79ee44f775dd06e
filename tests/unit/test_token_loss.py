"""token_loss: the loss of a global batch, however it is split over micro-batches or ranks."""

from __future__ import annotations

import torch

from plait.cli import main
from plait.models.components.loss import token_loss
from plait.runs.rundir import find_runs
from tests.tiny import assert_same_curve, train_curve, write_experiment


def test_split_batches_with_a_global_count_sum_to_the_whole_batch_mean():
    torch.manual_seed(0)
    logits = torch.randn(4, 5, 11, requires_grad=True)
    labels = torch.randint(0, 11, (4, 5))
    labels[0, :4] = -100  # rows with 1, 5, 3 and 5 targets: per-half means would weigh tokens unequally
    labels[2, :2] = -100
    whole = token_loss(logits, labels, label_smoothing=0.1)
    count = labels.ne(-100).sum()
    halves = sum(token_loss(logits[i:i + 2], labels[i:i + 2], 0.1, count) for i in (0, 2))
    naive = sum(token_loss(logits[i:i + 2], labels[i:i + 2], 0.1) for i in (0, 2)) / 2
    torch.testing.assert_close(halves, whole)
    assert abs(naive.item() - whole.item()) > 1e-3


def test_gradient_accumulation_gives_the_curve_of_one_big_batch(tmp_path):
    quick = {"train.max_steps": 4, "train.log_every": 1, "eval.splits": ["test"], "data.source.test_size": 4}
    big = write_experiment(tmp_path, "big", **quick, **{"train.batch_size": 8})
    accum = write_experiment(tmp_path, "accum", **quick, **{"train.batch_size": 4, "train.grad_accum": 2})
    assert main(["run", str(big), str(accum), "--no-progress"]) == 0
    runs = {run.path.parent.name: run for run in find_runs([tmp_path / "runs"])}
    assert_same_curve(runs["accum"], runs["big"])
    assert len(train_curve(runs["accum"])) == 4
