"""The non-finite guard: which step fails, why, and which samples were in the batch; skipping instead."""

from __future__ import annotations

import math

import pytest
import torch

from plait.train.nonfinite import INDEX, IndexedCollator, IndexedDataset, NonFiniteGuard, NonFiniteTraining, mix_positions

IDS = [f"s{i}" for i in range(8)]


def guard(skip: bool = False, check_grad: bool = True) -> tuple[NonFiniteGuard, list]:
    skipped: list = []
    return NonFiniteGuard(IDS, skip, check_grad, lambda *a: skipped.append(a)), skipped


def test_a_finite_step_goes_on_and_a_nan_loss_names_its_micro_batch() -> None:
    g, _ = guard()
    g.seen(torch.tensor([0, 1]), torch.tensor(1.5))
    assert g.step(1, torch.tensor(2.0)) is False
    g.seen(torch.tensor([2, 3]), torch.tensor(1.0))
    g.seen(torch.tensor([4, 5]), torch.tensor(math.nan))
    with pytest.raises(NonFiniteTraining, match=r"non-finite loss \(nan\) at step 2 \(batch: s4, s5\)") as err:
        g.step(2, torch.tensor(math.nan))
    assert err.value.record == {"step": 2, "reason": "loss (nan)", "samples": ["s4", "s5"]}


def test_an_infinite_gradient_names_the_whole_step_and_fp16_leaves_it_to_the_scaler() -> None:
    g, _ = guard()
    g.seen(torch.tensor([0, 1]), torch.tensor(1.0))
    g.seen(torch.tensor([2]), torch.tensor(1.0))
    with pytest.raises(NonFiniteTraining, match=r"gradient norm \(inf\) at step 7 \(batch: s0, s1, s2\)"):
        g.step(7, torch.tensor(math.inf))
    fp16, _ = guard(check_grad=False)
    fp16.seen(torch.tensor([0]), torch.tensor(1.0))
    assert fp16.step(1, torch.tensor(math.inf)) is False


def test_skipping_counts_the_batch_and_logs_a_zero_loss() -> None:
    g, skipped = guard(skip=True)
    assert float(g.seen(torch.tensor([6, 7]), torch.tensor(math.inf))) == 0.0
    assert g.step(3, torch.tensor(1.0)) is True
    assert skipped == [(3, "loss (inf)", ["s6", "s7"])]
    g.seen(torch.tensor([0]), torch.tensor(0.5))
    assert g.step(4, torch.tensor(1.0)) is False  # the next step starts clean


def test_indices_ride_along_in_the_batch() -> None:
    data = IndexedDataset([{"x": torch.tensor([1.0])}, {"x": torch.tensor([2.0])}])
    batch = IndexedCollator(lambda rows: {"x": torch.stack([r["x"] for r in rows])})([data[1], data[0]])
    assert batch[INDEX].tolist() == [1, 0] and batch["x"].tolist() == [[2.0], [1.0]]


def test_a_mixs_index_tuples_name_their_samples_in_the_training_list() -> None:
    positions = [[0, 2, 4], [1, 3]]  # source 0's samples sit at 0, 2, 4 of the training list; source 1's at 1, 3
    paired = IndexedDataset({(2, 1): {"x": 1}, (0, 0): {"x": 2}}, mix_positions("paired", positions))
    batch = IndexedCollator(lambda rows: {"x": [r["x"] for r in rows]})([paired[(2, 1)], paired[(0, 0)]])
    assert batch[INDEX].tolist() == [4, 3, 0, 1]  # row by row, every source's sample
    ratio = mix_positions("ratio", positions)
    assert ratio((1, 0)) == [1] and ratio((0, 2)) == [4]


def test_indexed_datasets_pickle_for_spawned_data_loader_workers() -> None:
    import pickle

    plain = pickle.loads(pickle.dumps(IndexedDataset([{"x": 1}, {"x": 2}])))
    mixed = pickle.loads(pickle.dumps(IndexedDataset({(1, 0): {"x": 3}}, mix_positions("paired", [[5, 6], [7]]))))
    assert plain[1] == {"x": 2, INDEX: 1} and mixed[(1, 0)] == {"x": 3, INDEX: [6, 7]}
