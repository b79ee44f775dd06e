"""plait predict: a manifest in, one JSONL line per row out, with throughput reported."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from serve_run import TinyRun, tiny_run

from plait.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    return tiny_run(tmp_path_factory)


def write_manifest(run: TinyRun, folder: Path, count: int, **extra: str) -> Path:
    """`count` rows cycling over the run's test images, copied beside the manifest (paths are relative)."""
    (folder / "pics").mkdir(parents=True, exist_ok=True)
    questions = ["what color is the shape?", "what shape is it?", "where is the shape?", "how big is the shape?"]
    rows = []
    for i in range(count):
        name = f"pics/{i % 4}.png"
        if not (folder / name).exists():
            shutil.copy(run.image(i % 4), folder / name)
        rows.append({"id": f"row-{i}", "image": name, "prompt": questions[i % 4], "target": "red", **extra})
    path = folder / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_predict_writes_a_line_per_sample_and_reports_throughput(run: TinyRun, tmp_path: Path, capsys) -> None:
    manifest = write_manifest(run, tmp_path / "data", 200)
    out = tmp_path / "out" / "predictions.jsonl"
    assert main(["predict", str(run.path), "--data", str(manifest), "--out", str(out),
                 "--batch-size", "50", "--no-progress"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 200
    assert [x["id"] for x in lines] == [f"row-{i}" for i in range(200)]
    assert all(set(x) == {"id", "prompt", "prediction", "reference"} and x["reference"] == "red" for x in lines)
    assert lines[1]["prompt"] == "what shape is it?"
    # rows 0, 4, 8... repeat one image and question, so batching and padding must not change their answers
    assert len({lines[i]["prediction"] for i in range(0, 200, 4)}) == 1
    shown = re.search(r"predict: 200 samples in ([\d.]+) s \(([\d.]+) samples/s\)", capsys.readouterr().out)
    assert shown and float(shown[2]) > 0


def test_predict_refuses_bad_input_and_writes_nothing(run: TinyRun, tmp_path: Path, capsys) -> None:
    manifest = write_manifest(run, tmp_path, 3)
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(run.path), "--data", str(manifest), "--out", str(out),
                 "--prompt-field", "question"]) == 2
    assert "missing column 'question'" in capsys.readouterr().err
    (tmp_path / "pics" / "1.png").write_bytes(b"not an image")
    assert main(["predict", str(run.path), "--data", str(manifest), "--out", str(out)]) == 2
    assert "1 of 3 rows have unusable media (first: id row-1" in capsys.readouterr().err
    assert main(["predict", str(run.path), "--data", str(manifest), "--out", str(out), "--batch-size", "0"]) == 2
    assert not out.exists()
