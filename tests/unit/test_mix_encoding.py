"""A data mix on the lean data path: MixDataset fetches a batch of index tuples with one batched encoding call per
source, each item bit for bit what encoding it alone gives; its sources share one keep_encoded budget; a mixed run
encodes ahead of the first step and its loss curve is the per-sample path's."""

from __future__ import annotations

import pytest
import torch

from plait.config import load_experiment
from plait.data.mix import MixDataset, MixSampler, by_source
from plait.data.sample import Sample
from plait.models.components.image_text import ImageTextProcessor
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.runs import atomic
from tests.integration.test_resume import run_cli
from tests.mix_tiny import mix_updates
from tests.tiny import write_experiment
from tests.unit.test_batched_encoding import Counting, assert_identical

NAMES = ["captions", "text"]


@pytest.fixture(scope="module")
def flamingo_mix(tmp_path_factory):
    """The tiny mix's training groups and the flamingo processor built on them."""
    path = write_experiment(tmp_path_factory.mktemp("mix"), "mix", **mix_updates("flamingo"))
    exp = load_experiment(path)
    data = prepare_data(exp, dry_run=True)
    processor = get_family(exp.model.family).build(exp.model, data.splits["train"], BuildOptions()).processor
    return by_source(data.splits["train"], NAMES), processor


def flat(items: list[dict], mode: str) -> list[dict]:
    return [item[name] for item in items for name in NAMES] if mode == "paired" else items


def count_batch_encodings(monkeypatch) -> list[int]:
    """The sizes of the batches the image families' encode_train_many is called with, from now on."""
    calls: list[int] = []
    batched = ImageTextProcessor.encode_train_many

    def spy(self, samples):
        calls.append(len(samples))
        return batched(self, samples)

    monkeypatch.setattr(ImageTextProcessor, "encode_train_many", spy)
    return calls


@pytest.mark.parametrize("mode", ["paired", "ratio"])
def test_a_batch_of_index_tuples_is_the_per_sample_path_bit_for_bit(flamingo_mix, mode, monkeypatch):
    groups, processor = flamingo_mix
    calls = count_batch_encodings(monkeypatch)
    order = list(MixSampler([len(g) for g in groups.values()], [1.0, 0.5], mode, seed=3))
    draws = [order[k: k + 8] for k in range(0, 24, 8)]
    lists = list(groups.values())

    def old(index: tuple[int, ...]) -> dict:  # MixDataset.__getitem__ as it was: encode_train per sample
        if mode == "paired":
            return {name: processor.encode_train(g[i]) for name, g, i in zip(NAMES, lists, index)}
        return processor.encode_train(lists[index[0]][index[1]])

    for keep in (0, 2**30):
        dataset = MixDataset(groups, processor.encode_train, mode, keep, processor.encode_train_many)
        for epoch in range(2):  # with a budget, the second pass reads every sample from the kept ones
            for batch in draws:
                calls.clear()
                got = dataset.__getitems__(batch)
                assert_identical(flat(got, mode), flat([old(index) for index in batch], mode))
                assert_identical(flat(got, mode), flat([dataset[index] for index in batch], mode))
                if keep == 0:  # one encoding call per source in the batch, of its distinct samples
                    parts = [[index[j] for index in batch] for j in range(2)] if mode == "paired" else [
                        [index[1] for index in batch if index[0] == j] for j in range(2)]
                    assert calls == [len(set(part)) for part in parts if part]
                elif epoch == 1:  # every sample kept: nothing encoded
                    assert calls == []
    assert any(index[0] == 1 for batch in draws for index in batch) or mode == "paired"


def test_sources_share_one_budget_and_encode_ahead_takes_them_in_turn():
    counting = Counting()  # every item 40 bytes
    groups = {"a": [Sample(id=str(i), prompt="", target="") for i in range(5)],
              "b": [Sample(id=str(10 + i), prompt="", target="") for i in range(3)]}
    shown: list[int] = []
    ahead = MixDataset(groups, counting.one, "paired", 6 * 40, counting.many)
    assert ahead.encode_ahead(batch=2, shown=shown.append) == 6
    # a's first 2, b's first 2, a's next 2 fill the budget; b's last and a's last do not fit: each source stops
    assert counting.batches == [["0", "1"], ["10", "11"], ["2", "3"], ["12"], ["4"]] and counting.single == []
    assert shown == [2, 4, 6, 6, 6] and ahead.kept_bytes == 240 == ahead.budget.used
    assert [list(s.kept) for s in ahead.sources] == [[0, 1, 2, 3], [0, 1]]
    counting.batches.clear()
    items = ahead.__getitems__([(4, 2), (0, 0), (4, 1)])  # a's 4 and b's 2 are not kept: one call each, once
    assert counting.batches == [["4"], ["12"]]
    assert [(x["a"]["input_ids"][0], x["b"]["input_ids"][0]) for x in items] == [(4, 12), (0, 10), (4, 11)]
    ratio = MixDataset(groups, counting.one, "ratio", 0, counting.many)
    counting.batches.clear()
    items = ratio.__getitems__([(1, 2), (0, 3), (1, 0), (0, 3)])
    assert [x["input_ids"][0] for x in items] == [12, 3, 10, 3] and counting.batches == [["3"], ["12", "10"]]
    assert ratio.encode_ahead() == 0 and ratio.kept_bytes == 0  # no budget: nothing done ahead


def mixed_curve(run) -> tuple[list[dict], list[dict]]:
    records = atomic.read_jsonl(run.metrics)
    train = [{k: v for k, v in r.items() if k.startswith(("loss", "grad_norm", "step"))}
             for r in records if r["split"] == "train"]
    return train, [r for r in records if r.get("event") == "encoded_ahead"]


@pytest.mark.parametrize("mode", ["paired", "ratio"])
def test_a_mixed_run_encodes_ahead_and_follows_the_per_sample_loss_curve(tmp_path, mode, monkeypatch):
    calls = count_batch_encodings(monkeypatch)
    variants = {
        "per-sample": {"train.keep_encoded_mb": 0, "train.encode_ahead": False},  # the old path, forced below
        "batched": {"train.keep_encoded_mb": 0},  # nothing kept: every step encodes its batch, one call per source
        "ahead": {},  # the defaults: every sample encoded before the first step, kept
    }
    curves, events, counts = {}, {}, {}
    for name, settings in variants.items():
        with monkeypatch.context() as patch:
            if name == "per-sample":
                patch.delattr(MixDataset, "__getitems__")  # the DataLoader then asks for one item at a time
            (tmp_path / name).mkdir()
            updates = mix_updates("flamingo", mode=mode) | {"train.max_steps": 3} | settings
            calls.clear()
            curves[name], events[name] = mixed_curve(run_cli(str(write_experiment(tmp_path / name, "mix", **updates))))
            counts[name] = list(calls)
    assert len(curves["ahead"]) == 3 and curves["per-sample"] == curves["batched"] == curves["ahead"]
    assert mode == "ratio" or {"loss_captions", "loss_text"} <= set(curves["ahead"][0])
    evaluation = counts["per-sample"]  # the old path never encodes a training batch at once: these are the test's
    training = counts["batched"][: len(counts["batched"]) - len(evaluation)]
    assert counts["batched"][len(training):] == evaluation and counts["ahead"] == [24, 40] + evaluation
    # batches of 4 samples (paired: of each source), each source's part in one call: 3 steps, and the batch after,
    # which accelerate's data loader fetches ahead to know whether a batch is the last
    assert sum(training) == 4 * 4 * (2 if mode == "paired" else 1) and (mode == "ratio" or training == [4] * 8)
    (event,) = events["ahead"]
    assert event["samples"] == event["of"] == 24 + 40 and event["mib"] > 0  # each source in one batch of up to 64
    assert events["batched"] == [{**events["batched"][0], "samples": 0, "of": 64}] and events["per-sample"] == []
