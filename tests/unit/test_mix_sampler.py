"""Mix sampling: paired epochs as long as the longest source, orders from (seed, epoch) only; ratio shares;
config errors name the field; the paired loss is the weighted sum of the losses computed apart."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from pydantic import ValidationError

from plait.config.schema import Experiment
from plait.data.config import DataConfig
from plait.data.mix import MixSampler, PairedCollator, PairedLoss
from tests.flamingo_tiny import IMAGE, tiny_flamingo


def test_paired_epoch_covers_the_longest_and_cycles_the_shorter() -> None:
    sampler = MixSampler([10, 3], [1.0, 0.25], "paired", seed=7)
    pairs = list(sampler)
    assert len(pairs) == len(sampler) == 10
    assert sorted(a for a, _ in pairs) == list(range(10))  # every long-source sample once
    counts = Counter(b for _, b in pairs)
    assert set(counts) == {0, 1, 2} and max(counts.values()) - min(counts.values()) <= 1
    assert list(MixSampler([10, 3], [1.0, 0.25], "paired", seed=7)) == pairs  # same (seed, epoch), same order
    sampler.set_epoch(1)
    assert list(sampler) != pairs


def test_ratio_draws_by_weight() -> None:
    sampler = MixSampler([300, 100], [3.0, 1.0], "ratio", seed=0)
    draws = list(sampler)
    assert len(draws) == 400
    share = sum(1 for j, _ in draws if j == 0) / len(draws)
    assert 0.7 < share < 0.8
    assert all(0 <= i < (300, 100)[j] for j, i in draws)


def test_mix_config_errors_name_the_field() -> None:
    part = {"source": {"kind": "builtin_captions"}}
    with pytest.raises(ValidationError, match="names must differ"):
        DataConfig.model_validate({"mix": {"sources": [{"name": "a", **part}, {"name": "a", **part}]}})
    with pytest.raises(ValidationError, match="not both"):
        DataConfig.model_validate({"source": {"kind": "builtin", "task": "caption"},
                                   "mix": {"sources": [{"name": "a", **part}, {"name": "b", **part}]}})
    with pytest.raises(ValidationError, match="eval_source"):
        DataConfig.model_validate({"mix": {"eval_source": "c",
                                           "sources": [{"name": "a", **part}, {"name": "b", **part}]}})
    from tests.mix_tiny import mix_updates
    from tests.tiny import tiny

    valid = Experiment.model_validate(tiny(**mix_updates()))
    assert Experiment.model_validate(valid.model_dump(mode="json")).data.mix == valid.data.mix  # config.yaml reloads
    exp = tiny(**mix_updates(), **{"train.group_by_length": True})
    with pytest.raises(ValidationError, match="train.group_by_length: a data.mix draws its own order"):
        Experiment.model_validate(exp)


def test_paired_loss_is_the_weighted_sum_of_the_losses_apart() -> None:
    model, _ = tiny_flamingo("opt", gate=0.5)
    ids = torch.tensor([[1, IMAGE, 5, 6, 7], [1, IMAGE, 8, 9, 2]])
    text = torch.tensor([[1, 10, 11, 12, 13, 2], [1, 14, 15, 16, 2, 0]])
    captions = {"input_ids": ids, "labels": ids.masked_fill(ids == IMAGE, -100),
                "pixel_values": torch.randn(2, 1, 3, 16, 16)}
    texts = {"input_ids": text, "labels": text.masked_fill(text == 0, -100), "attention_mask": (text != 0).long()}
    collate = PairedCollator(lambda rows: rows[0], ["captions", "text"])
    batch = collate([{"captions": captions, "text": texts}])
    loss = PairedLoss({"captions": 1.0, "text": 0.25})
    model.train()  # no dropout in the tiny model: train mode only makes the loss record its parts
    total = loss(model, batch)
    apart = model(**captions).loss + 0.25 * model(**texts).loss
    assert torch.allclose(total, apart, rtol=0, atol=1e-6)
    logs = {"loss": float(total.detach())}
    loss.on_log(None, None, None, logs)
    with torch.no_grad():
        assert logs["loss_captions"] == pytest.approx(float(model(**captions).loss), abs=1e-6)
        assert logs["loss_text"] == pytest.approx(float(model(**texts).loss), abs=1e-6)
