"""Padding-free batches and length-grouped sampling: same loss per token as padded batches, wiring in train()."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from plait.config.schema import Experiment
from plait.data.packing import FlatteningCollator, check_padding_free
from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.runs import atomic
from plait.runs.rundir import create_run_dir
from plait.train.loop import train
from plait.train.seed import seed_everything
from tests.tiny import tiny


@pytest.fixture(scope="module")
def setup():
    exp = Experiment.model_validate(tiny(**{"model.vision.cache_features": False}))
    data = prepare_data(exp, dry_run=False)
    seed_everything(0)
    built = get_family("projector").build(exp.model, data.splits["train"], BuildOptions())
    # widely varying lengths: targets of 1 to 20 words, some samples without an image
    samples = [Sample(id=str(i), prompt=s.prompt, target=" ".join([s.target] * (1 + 3 * i)),
                      media=s.media if i % 3 else None) for i, s in enumerate(data.splits["train"][:7])]
    return exp, data, built, samples


def test_padding_free_loss_and_gradients_match_padded(setup):
    _, _, built, samples = setup
    model, processor = built.model, built.processor
    encoded = [processor.encode_train(s) for s in samples]
    padded, flat = processor.collate(encoded), FlatteningCollator(processor.collate)(encoded)
    assert (padded["attention_mask"] == 0).sum() > 20  # the padded batch really pads
    grads = []
    for batch in (padded, flat):
        model.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-6)
    for flat_grad, padded_grad in zip(grads[1][1], grads[0][1]):
        assert_close(flat_grad, padded_grad, rtol=1e-4, atol=1e-6)
    model.zero_grad()


def test_flattened_batch_layout(setup):
    _, _, built, samples = setup
    processor = built.processor
    encoded = [processor.encode_train(s) for s in samples]
    flat = FlatteningCollator(processor.collate)(encoded)
    lengths = [len(e["input_ids"]) for e in encoded]
    assert "attention_mask" not in flat and flat["input_ids"].shape == (1, sum(lengths))
    starts = torch.tensor([0, *lengths[:-1]]).cumsum(0)
    assert flat["position_ids"][0, starts].tolist() == [0] * len(samples)
    assert flat["position_ids"][0, -1].item() == lengths[-1] - 1
    assert (flat["labels"][0, starts] == -100).all()  # no sequence predicts the next one's first token
    assert flat["pixel_values"].shape[0] == sum(s.media is not None for s in samples)


def test_padding_free_refuses_models_without_position_ids():
    class NoPositions(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, labels=None):
            return input_ids

    with pytest.raises(UserError, match="train.padding_free"):
        check_padding_free(NoPositions())


def _losses(setup, tmp_path, **train_updates):
    exp, data, _, _ = setup
    cfg = exp.train.model_copy(update={"max_steps": 3, "log_every": 1, **train_updates})
    seed_everything(0)
    built = get_family("projector").build(exp.model, data.splits["train"], BuildOptions())
    run = create_run_dir(tmp_path, "packing")
    train(cfg, run, built, data.splits["train"], 0, evaluate=dict, progress=False)
    return [r["loss"] for r in atomic.read_jsonl(run.metrics) if r.get("split") == "train" and "loss" in r]


def test_train_padding_free_with_length_grouping_matches_padded(setup, tmp_path):
    padded = _losses(setup, tmp_path, group_by_length=True)
    flat = _losses(setup, tmp_path, group_by_length=True, padding_free=True)
    assert len(padded) == 3
    assert_close(torch.tensor(flat), torch.tensor(padded), rtol=1e-5, atol=1e-6)


def test_group_by_length_takes_lengths_from_the_processor(setup):
    _, data, built, samples = setup
    processor = built.processor
    assert [processor.length(s) for s in samples] == [len(processor.encode_train(s)["input_ids"]) for s in samples]
    from transformers import TrainingArguments

    from plait.data.dataset import EncodedDataset
    from plait.train.trainer import PlaitTrainer

    calls = []

    def encode(sample):
        calls.append(sample.id)
        return processor.encode_train(sample)

    args = TrainingArguments(output_dir="unused", per_device_train_batch_size=2, report_to="none", use_cpu=True,
                             train_sampling_strategy="group_by_length")
    lengths = [processor.length(s) for s in samples]
    trainer = PlaitTrainer(model=built.model, args=args, train_dataset=EncodedDataset(samples, encode),
                           data_collator=processor.collate, lengths=lengths, make_optimizer=None, make_scheduler=None)
    sampler = trainer._get_train_sampler()
    assert sampler.lengths == lengths and calls == []  # no sample was encoded to learn its length
    assert sorted(sampler) == list(range(len(samples)))
