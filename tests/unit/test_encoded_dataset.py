"""Encoded samples kept in memory: each sample is encoded once per run within the budget, and training on kept
samples follows the same loss curve as encoding on every access."""

from __future__ import annotations

import json

import torch

from plait.cli import main
from plait.data.dataset import EncodedDataset
from plait.data.sample import Sample
from tiny import write_experiment


def test_each_sample_is_encoded_once_within_the_budget():
    calls: list[str] = []

    def encode(sample: Sample) -> dict:
        calls.append(sample.id)
        return {"input_ids": [1, 2, 3], "pixel_values": torch.zeros(4, dtype=torch.float32)}  # 24 + 16 bytes

    samples = [Sample(id=str(i), prompt="", target="") for i in range(5)]
    kept = EncodedDataset(samples, encode, keep_bytes=3 * 40)
    for _ in range(2):
        items = [kept[i] for i in range(5)]
    assert calls == ["0", "1", "2", "3", "4", "3", "4"]  # three fit in the budget; the other two re-encode
    assert kept.kept_bytes == 120 and all(item["input_ids"] == [1, 2, 3] for item in items)
    plain = EncodedDataset(samples, encode)
    plain[0], plain[0]
    assert calls[-2:] == ["0", "0"]


def test_kept_samples_train_like_fresh_ones(tmp_path):
    curves = []
    for keep in (0, 64):
        (tmp_path / str(keep)).mkdir()
        spec = write_experiment(tmp_path / str(keep), "tiny", **{"train.keep_encoded_mb": keep,
                                                                   "train.max_steps": 12, "train.log_every": 1})
        assert main(["run", str(spec), "--no-progress"]) == 0
        [run] = (tmp_path / str(keep) / "runs" / "tiny").iterdir()
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        curves.append([r["loss"] for r in records if r.get("split") == "train" and "loss" in r])
    assert len(curves[0]) == 12 and curves[0] == curves[1]
