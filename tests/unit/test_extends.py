"""`extends`: mappings merge key by key, but a child that switches a variant (kind, family) replaces it."""

from __future__ import annotations

from pathlib import Path

import yaml

from plait.config.load import deep_merge, load_experiment

ROOT = Path(__file__).resolve().parents[2]


def test_same_variant_merges_key_by_key() -> None:
    base = {"schedule": {"kind": "cosine", "warmup_steps": 100, "min_lr_ratio": 0.1}}
    assert deep_merge(base, {"schedule": {"kind": "cosine", "warmup_steps": 5}}) == {
        "schedule": {"kind": "cosine", "warmup_steps": 5, "min_lr_ratio": 0.1}}
    assert deep_merge(base, {"schedule": {"warmup_steps": 5}})["schedule"]["min_lr_ratio"] == 0.1


def test_a_changed_discriminator_replaces_the_mapping() -> None:
    base = {"train": {"lr": 1.0, "schedule": {"kind": "cosine", "warmup_steps": 100}}}
    merged = deep_merge(base, {"train": {"schedule": {"kind": "one_cycle"}}})
    assert merged == {"train": {"lr": 1.0, "schedule": {"kind": "one_cycle"}}}
    model = {"model": {"family": "projector", "vision": {"x": 1}}}
    assert deep_merge(model, {"model": {"family": "mapper", "mapper": {}}}) == {
        "model": {"family": "mapper", "mapper": {}}}


def test_switching_schedule_and_data_source_over_the_quickstart_validates(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    manifest = tmp_path / "train.jsonl"
    manifest.write_text('{"id": "a", "image": "a.png", "prompt": "p", "target": "t"}\n')
    child.write_text(yaml.safe_dump({
        "extends": str(ROOT / "experiments" / "quickstart.yaml"),
        "train": {"schedule": {"kind": "one_cycle"}},
        "data": {"source": {"kind": "manifest", "train": "train.jsonl"}},
    }))
    exp = load_experiment(child)
    assert exp.train.schedule.kind == "one_cycle" and exp.train.lr == 1.0e-3  # the rest of train is inherited
    assert exp.data.source.kind == "manifest" and exp.data.source.train == manifest
    assert exp.model.tokenizer.train.vocab_size == 200
