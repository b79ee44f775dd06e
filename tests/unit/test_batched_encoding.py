"""A batch's samples encoded together (one image-processor call) give, bit for bit, what encoding each alone gives;
EncodedDataset.__getitems__ returns what __getitem__ would and keeps samples the same way; the Trainer's data loader
takes the batched path, and a run on it follows the per-sample run's loss curve exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from plait.cli import main
from plait.config import load_experiment
from plait.config.schema import Experiment
from plait.data.dataset import EncodedDataset
from plait.data.sample import Sample
from plait.models.components.text import TextProcessor
from plait.models.family import BuildOptions, get_family
from plait.models.projector.processor import ProjectorProcessor
from plait.pipeline import prepare_data
from plait.train.nonfinite import INDEX, IndexedDataset
from tests.tiny_families import FLAMINGO
from tests.integration.test_git_run import GIT
from tests.tiny import tiny, write_experiment
from tests.tiny_adapter import tiny_model as adapter_model

QUICKSTART = Path(__file__).resolve().parents[2] / "experiments" / "quickstart.yaml"
SMALL_DATA = ["data.source.train_size=16", "data.source.validation_size=4", "data.source.test_size=4"]


def quickstart() -> Experiment:
    return load_experiment(QUICKSTART, SMALL_DATA)


def family_experiment(model: dict) -> Experiment:
    return Experiment.model_validate(tiny(model=model))


def odd_samples(folder: Path) -> list[Sample]:
    """Images the shapes data has none of (other sizes, aspect ratios and modes) and a sample without one."""
    out = []
    prompts = ["what shape is it?", "look: <image> what shape is it?", "<image>", ""]
    for i, (size, mode) in enumerate([((40, 24), "RGB"), ((9, 30), "L"), ((16, 16), "RGBA"), ((17, 16), "RGB")]):
        path = folder / f"odd{i}.png"
        Image.new(mode, size, 90 + 40 * i).save(path)
        out.append(Sample(id=f"odd{i}", prompt=prompts[i], target="a square" if i % 2 else "", media=path))
    return out + [Sample(id="text", prompt="what <image> shape is it?", target="none", media=None)]


def assert_identical(batched: list[dict], single: list[dict]) -> None:
    assert len(batched) == len(single)
    for a, b in zip(batched, single):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(b[key], torch.Tensor):
                x, y = a[key], b[key]
                assert (x.dtype, x.shape, x.stride()) == (y.dtype, y.shape, y.stride()), key
                assert torch.equal(x, y), key  # bit for bit: no tolerance
            else:
                assert a[key] == b[key], key


@pytest.mark.parametrize("name", ["quickstart", "between", "adapter", "flamingo", "git"])
def test_batched_encoding_is_per_sample_encoding_bit_for_bit(name, tmp_path):
    models = {"adapter": adapter_model(), "flamingo": FLAMINGO, "git": GIT}
    if name in models:
        exp = family_experiment(models[name])
    else:  # the quickstart's processor; "between": image tokens between a fixed prefix and suffix
        exp = quickstart() if name == "quickstart" else load_experiment(QUICKSTART, [
            *SMALL_DATA, "model.placement=between", "model.prefix=\"a picture:\"", "model.suffix=\" shape\""])
    data = prepare_data(exp, dry_run=True)
    processor = get_family(exp.model.family).build(exp.model, data.splits["train"], BuildOptions()).processor
    assert processor.features is None  # pixels, not cached features, are what is compared
    assert name != "between" or (processor.placement, processor.prefix, processor.suffix) == (
        "between", "a picture:", " shape")
    samples = data.splits["train"][:12] + odd_samples(tmp_path)
    batched = processor.encode_train_many(samples)
    assert sum(b["pixel_values"] is not None for b in batched) == len(samples) - 1
    assert_identical(batched, [processor.encode_train(s) for s in samples])
    assert processor.encode_train_many([samples[-1]])[0]["pixel_values"] is None  # a batch with no image at all


def test_with_a_feature_cache_the_batch_carries_stored_features_and_no_pixels(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "cache"))
    exp = load_experiment(QUICKSTART, [*SMALL_DATA, "model.vision.freeze=true", "model.vision.cache_features=true"])
    data = prepare_data(exp, dry_run=True)
    processor = get_family("projector").build(exp.model, data.splits["train"], BuildOptions()).processor
    samples = data.splits["train"][:6]
    processor.prepare_training(samples)
    batched = processor.encode_train_many(samples)
    assert all(b["pixel_values"] is None and b["vision_features"] is not None for b in batched)
    assert_identical(batched, [processor.encode_train(s) for s in samples])


class Counting:
    """An encoder that records what it was asked to encode, one at a time or as a batch."""

    def __init__(self) -> None:
        self.single: list[str] = []
        self.batches: list[list[str]] = []

    def one(self, sample: Sample) -> dict:
        self.single.append(sample.id)
        return {"input_ids": [int(sample.id)] * 3, "pixel_values": torch.full((4,), float(sample.id))}  # 24 + 16 bytes

    def many(self, samples: list[Sample]) -> list[dict]:
        self.batches.append([s.id for s in samples])
        return [{"input_ids": [int(s.id)] * 3, "pixel_values": torch.full((4,), float(s.id))} for s in samples]


def test_getitems_returns_and_keeps_what_getitem_would():
    samples = [Sample(id=str(i), prompt="", target="") for i in range(6)]
    batches = [[4, 0, 2], [2, 5, 5, 1], [0, 3, 4, 1]]
    by_item, by_batch = Counting(), Counting()
    one = EncodedDataset(samples, by_item.one, keep_bytes=3 * 40)
    many = EncodedDataset(samples, by_batch.one, keep_bytes=3 * 40, encode_many=by_batch.many)
    for batch in batches:
        expected = [one[i] for i in batch]
        got = many.__getitems__(batch)
        assert [(g["input_ids"], g["pixel_values"].tolist()) for g in got] == \
               [(e["input_ids"], e["pixel_values"].tolist()) for e in expected]
        assert list(many.kept) == list(one.kept) and many.kept_bytes == one.kept_bytes
    assert list(many.kept) == [4, 0, 2] and many.kept_bytes == 120  # three fit the budget, first come first kept
    # only what is not kept yet is encoded, each once per batch, all in one call; __getitem__ stays single
    assert by_batch.batches == [["4", "0", "2"], ["5", "1"], ["3", "1"]] and by_batch.single == []
    assert many[5]["input_ids"] == [5, 5, 5] and by_batch.single == ["5"]
    plain = EncodedDataset(samples, by_batch.one)  # no batch encoder: one call per sample
    assert [x["input_ids"][0] for x in plain.__getitems__([1, 2])] == [1, 2] and by_batch.single[-2:] == ["1", "2"]


def test_indexed_dataset_fetches_a_batch_through_the_wrapped_getitems():
    counting = Counting()
    samples = [Sample(id=str(i), prompt="", target="") for i in range(4)]
    items = IndexedDataset(EncodedDataset(samples, counting.one, encode_many=counting.many)).__getitems__([3, 1])
    assert [(x[INDEX], x["input_ids"]) for x in items] == [(3, [3, 3, 3]), (1, [1, 1, 1])]
    assert counting.batches == [["3", "1"]] and counting.single == []


def test_a_run_on_batched_encoding_follows_the_per_sample_loss_curve(tmp_path, monkeypatch):
    calls: list[int] = []
    batched = ProjectorProcessor.encode_train_many

    def spy(self, samples):
        calls.append(len(samples))
        return batched(self, samples)

    curves = []
    for name, method in (("batched", spy), ("single", TextProcessor.encode_train_many)):
        monkeypatch.setattr(ProjectorProcessor, "encode_train_many", method)
        (tmp_path / name).mkdir()
        # no kept samples and no feature cache: every step encodes its batch's images afresh
        spec = write_experiment(tmp_path / name, "tiny", **{
            "train.keep_encoded_mb": 0, "model.vision.cache_features": False, "train.max_steps": 8,
            "train.log_every": 1})
        assert main(["run", str(spec), "--no-progress"]) == 0
        [run] = (tmp_path / name / "runs" / "tiny").iterdir()
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        curves.append([(r["loss"], r["grad_norm"]) for r in records if r.get("split") == "train" and "loss" in r])
    assert calls[:8] == [8] * 8  # the Trainer's data loader asked for whole batches of 8
    assert len(curves[0]) == 8 and curves[0] == curves[1]


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_and_mask_match_torch_pad_sequence(side):
    from torch.nn.utils.rnn import pad_sequence

    from plait.data.collate import mask, pad

    rows = [[5, 6, 7], [], [8], [9, 10, 11, 12]]
    expected = pad_sequence([torch.tensor(r, dtype=torch.long) for r in rows], batch_first=True, padding_value=-100,
                            padding_side=side)
    got = pad(rows, -100, side)
    assert got.dtype == torch.long and torch.equal(got, expected)
    assert torch.equal(mask(rows, side), (expected != -100).long())
    assert pad([[], []], 0).shape == (2, 0)
