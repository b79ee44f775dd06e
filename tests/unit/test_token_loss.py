"""token_loss: the loss of a global batch, however it is split over micro-batches or ranks."""

from __future__ import annotations

import pytest
import torch

from plait.cli import main
from plait.models.components.loss import token_loss
from plait.runs import atomic
from plait.runs.rundir import find_runs
from tests.tiny import write_experiment


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
    curves = {}
    for run in find_runs([tmp_path / "runs"]):
        curves[run.path.parent.name] = [(r["loss"], r["grad_norm"]) for r in atomic.read_jsonl(run.metrics)
                                        if r.get("split") == "train"]
    assert len(curves["big"]) == len(curves["accum"]) == 4
    for (loss, norm), (ref_loss, ref_norm) in zip(curves["accum"], curves["big"]):
        assert loss == pytest.approx(ref_loss, rel=1e-5) and norm == pytest.approx(ref_norm, rel=1e-4)
