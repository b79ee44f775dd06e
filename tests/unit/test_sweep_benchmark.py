"""The pruning benchmark's arithmetic: steps and best runs come from the run directories, the verdict from both."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from benchmarks.sweep_pruning import measure, section


def fake_run(folder: Path, name: str, state: str, step: int, lr: float, validation: float | None) -> None:
    path = folder / "runs" / "quickstart" / name
    (path / "eval").mkdir(parents=True)
    (path / "status.json").write_text(json.dumps({"state": state, "step": step}))
    (path / "config.yaml").write_text(yaml.safe_dump(
        {"train": {"lr": lr, "label_smoothing": 0.0, "schedule": {"warmup_steps": 0}}}))
    if validation is not None:
        for split, value in (("validation", validation), ("test", validation - 2)):
            (path / "eval" / f"{split}.json").write_text(json.dumps({"metrics": {"exact_match": value}}))


def test_measure_and_verdict(tmp_path):
    fake_run(tmp_path / "grid", "a", "finished", 300, 1e-3, 48.0)
    fake_run(tmp_path / "grid", "b", "finished", 300, 3e-3, 51.0)
    fake_run(tmp_path / "tpe", "c", "finished", 300, 3e-3, 50.5)
    fake_run(tmp_path / "tpe", "d", "pruned", 100, 1e-2, None)
    grid, tpe = measure(tmp_path / "grid"), measure(tmp_path / "tpe")
    assert grid["steps"] == 600 and tpe["steps"] == 400 and tpe["states"] == {"finished": 1, "pruned": 1}
    assert grid["best"]["scores"] == {"validation": 51.0, "test": 49.0} and "lr=0.003" in grid["best"]["config"]
    text = section({"grid-full": {**grid, "wall": 60}, "tpe-pruned": {**tpe, "wall": 30}}, 2, [3.0, 5.0])
    assert "| grid-full | 2 finished | 600 | 1.0 min | 51.0 | 49.0 |" in text
    assert "67% of the grid's steps" in text and "target (within 1 point, at most half the steps) MISSED" in text
    tpe["steps"] = 300
    text = section({"grid-full": {**grid, "wall": 60}, "tpe-pruned": {**tpe, "wall": 30}}, 2, [3.0])
    assert "at most half the steps) met." in text
