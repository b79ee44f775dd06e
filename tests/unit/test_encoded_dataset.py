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


def test_encoding_ahead_keeps_samples_in_order_until_the_budget_is_full():
    calls: list[list[str]] = []

    def encode_many(batch: list[Sample]) -> list[dict]:
        calls.append([s.id for s in batch])
        return [{"input_ids": [int(s.id)] * 3, "pixel_values": torch.zeros(4)} for s in batch]  # 40 bytes each

    samples = [Sample(id=str(i), prompt="", target="") for i in range(7)]
    counts: list[int] = []
    ahead = EncodedDataset(samples, lambda s: encode_many([s])[0], 5 * 40, encode_many)
    assert ahead.encode_ahead(batch=2, shown=counts.append) == 5
    assert calls == [["0", "1"], ["2", "3"], ["4", "5"]] and counts == [2, 4, 5]  # "5" did not fit: stop
    lazy = EncodedDataset(samples, lambda s: encode_many([s])[0], 5 * 40, encode_many)
    lazy.__getitems__(list(range(7)))
    assert list(ahead.kept) == list(lazy.kept) == [0, 1, 2, 3, 4] and ahead.kept_bytes == lazy.kept_bytes
    calls.clear()
    assert ahead.__getitems__([4, 0, 2]) == [ahead.kept[4], ahead.kept[0], ahead.kept[2]] and calls == []
    assert EncodedDataset(samples, lambda s: {}, 0).encode_ahead() == 0  # nothing to keep: nothing done ahead


def test_a_run_encodes_its_training_set_before_the_first_step_and_trains_the_same(tmp_path):
    curves, events = [], []
    for ahead in (True, False):
        (tmp_path / str(ahead)).mkdir()
        spec = write_experiment(tmp_path / str(ahead), "tiny", **{"train.encode_ahead": ahead,
                                                                    "train.max_steps": 8, "train.log_every": 1})
        assert main(["run", str(spec), "--no-progress"]) == 0
        [run] = (tmp_path / str(ahead) / "runs" / "tiny").iterdir()
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        curves.append([r["loss"] for r in records if r.get("split") == "train" and "loss" in r])
        events.append([r for r in records if r.get("event") == "encoded_ahead"])
    (event,) = events[0]
    assert event["samples"] == event["of"] > 0 and event["mib"] >= 0 and events[1] == []
    assert len(curves[0]) == 8 and curves[0] == curves[1]
