"""The frozen-encoder feature cache: cached training equals recomputing; entries keyed by content; safe by default."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch.testing import assert_close

from plait.config.schema import Experiment
from plait.errors import UserError
from plait.models.components.feature_cache import FeatureCache, content_key, encoder_fingerprint, unsafe_reason
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.runs import atomic
from plait.runs.rundir import create_run_dir
from plait.train.loop import train
from plait.train.seed import seed_everything
from tests.tiny import tiny


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def build(**updates):
    exp = Experiment.model_validate(tiny(**updates))
    data = prepare_data(exp, dry_run=False)
    seed_everything(exp.seed)
    return exp, data, get_family("projector").build(exp.model, data.splits["train"], BuildOptions())


def test_cached_training_equals_recomputing(cache_dir, tmp_path):
    results = {}
    for setting in (True, False):
        exp, data, built = build(**{"model.vision.cache_features": setting})
        assert (built.processor.features is not None) is setting
        run = create_run_dir(tmp_path / "runs", f"cache-{setting}")
        cfg = exp.train.model_copy(update={"max_steps": 7, "log_every": 1})  # 48 samples / 8: into epoch 2
        train(cfg, run, built, data.splits["train"], 0, evaluate=dict, progress=False)
        records = atomic.read_jsonl(run.metrics)
        losses = [r["loss"] for r in records if r.get("split") == "train" and "loss" in r]
        results[setting] = (losses, {k: v.clone() for k, v in built.model.projector.state_dict().items()}, records)
    assert len(results[True][0]) == 7
    assert_close(torch.tensor(results[True][0]), torch.tensor(results[False][0]), rtol=0, atol=1e-6)
    for name, value in results[False][1].items():
        assert_close(results[True][1][name], value, rtol=1e-5, atol=1e-7)
    event = next(r for r in results[True][2] if r.get("event") == "feature_cache")
    distinct = {content_key(s.media) for s in data.splits["train"]}
    assert event["computed"] == len(distinct)
    assert len(list(cache_dir.glob("features/*/*/*.npy"))) == len(distinct)
    assert not any(r.get("event") == "feature_cache" for r in results[False][2])


def test_entries_follow_content_not_names(cache_dir, tmp_path):
    calls = []

    def encode(paths):
        calls.append(len(paths))
        return torch.stack([torch.full((2, 3), float(Image.open(p).getpixel((0, 0))[0])) for p in paths])

    first, copy, edited = tmp_path / "a.png", tmp_path / "renamed.png", tmp_path / "b.png"
    Image.new("RGB", (4, 4), (10, 0, 0)).save(first)
    shutil.copy(first, copy)
    Image.new("RGB", (4, 4), (20, 0, 0)).save(edited)
    cache = FeatureCache(cache_dir / "enc", encode)
    assert cache.fill([first, copy, edited]) == 2 and calls == [2]  # the renamed copy is the same entry
    assert cache.fill([first, copy, edited]) == 0 and calls == [2]
    assert cache.entry(copy) == cache.entry(first) != cache.entry(edited)
    assert_close(cache.get(copy), torch.full((2, 3), 10.0))
    assert_close(cache.get(edited), torch.full((2, 3), 20.0))
    assert np.load(cache.entry(first), mmap_mode="r").dtype == np.float32
    Image.new("RGB", (4, 4), (30, 0, 0)).save(first)  # the file changes under the same name
    assert_close(cache.get(first), torch.full((2, 3), 30.0))
    assert calls == [2, 1]


def test_a_failed_encoding_leaves_no_entry(cache_dir, tmp_path):
    image = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(image)

    def broken(paths):
        raise RuntimeError("out of memory")

    cache = FeatureCache(cache_dir / "enc", broken)
    with pytest.raises(RuntimeError):
        cache.fill([image])
    assert not cache.entry(image).exists() and not list((cache_dir / "enc").rglob("*.npy"))


def test_fingerprint_changes_with_weights_and_settings():
    _, _, built = build()
    vision = built.model.vision
    base = encoder_fingerprint(vision, {"layer": -1})
    assert encoder_fingerprint(vision, {"layer": -1}) == base
    assert encoder_fingerprint(vision, {"layer": -2}) != base
    with torch.no_grad():
        next(vision.parameters()).view(-1)[0] += 1e-3
    assert encoder_fingerprint(vision, {"layer": -1}) != base


def test_cache_folder_differs_per_feature_settings(cache_dir):
    folders = {build(**{"model.vision.layer": layer})[2].processor.features.folder for layer in (-1, -2)}
    folders.add(build(**{"model.vision.drop_cls": True})[2].processor.features.folder)
    assert len(folders) == 3


def test_auto_turns_the_cache_off_when_unsafe(cache_dir):
    assert build()[2].processor.features is not None  # frozen, no dropout: on by default
    assert build(**{"model.vision.freeze": False})[2].processor.features is None
    dropout = dict(tiny()["model"]["vision"]["config"], attention_dropout=0.1)
    assert build(**{"model.vision.config": dropout})[2].processor.features is None
    assert build(**{"model.vision.cache_features": False})[2].processor.features is None
    with pytest.raises(UserError, match="model.vision.cache_features: true, but the encoder has trainable weights"):
        build(**{"model.vision.freeze": False, "model.vision.cache_features": True})
    assert "dropout" in unsafe_reason(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1)).requires_grad_(False))
    assert "batch norm" in unsafe_reason(torch.nn.BatchNorm1d(2).requires_grad_(False))
