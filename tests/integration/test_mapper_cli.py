"""`plait run` with the mapper family: MultimodalHugs TSVs of .pose and .npy files, signs, errors, averaging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mapper_data import TINY_T5, mixed_dataset

from plait.cli import main
from plait.data.builtin.signs import generate_signs

SACREBLEU = ("nrefs:1|", "version:")


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def only_run(root: Path) -> Path:
    (run,) = [p for p in root.glob("*/*") if p.is_dir()]
    return run


def tsv_experiment(tmp_path: Path, train_tsv: Path, test_tsv: Path, **changes: dict) -> Path:
    exp = {
        "name": "tsv", "seed": 0, "output_dir": str(tmp_path / "runs"),
        "model": {"family": "mapper", "mapper": {"kind": "conv"}, "dropout": 0.0, "backbone": {"config": TINY_T5},
                  "tokenizer": {"train": {"kind": "wordlevel"}}},
        "data": {"source": {"kind": "tsv", "train": str(train_tsv), "test": str(test_tsv)}},
        "train": {"max_steps": 6, "batch_size": 4, "lr": 1e-2, "log_every": 3},
        "eval": {"metrics": ["bleu", "chrf", "ter"], "headline": "bleu"},
    }
    for section, values in changes.items():
        exp[section] = {**exp[section], **values}
    return write_yaml(tmp_path / "exp.yaml", exp)


def test_pose_and_npy_tsv_trains_and_evaluates(tmp_path: Path) -> None:
    files = mixed_dataset(tmp_path / "data")
    model = {"family": "mapper", "mapper": {"kind": "conv"}, "dropout": 0.0, "backbone": {"config": TINY_T5},
             "tokenizer": {"train": {"kind": "wordlevel"}}, "signal": {"max_frames": 30}}
    exp = tsv_experiment(tmp_path, files["train"], files["test"], model=model,
                         data={"max_bad_fraction": 0.3}, train={"save_every": 2, "average_checkpoints": 2})
    assert main(["run", str(exp), "--no-progress"]) == 0
    run = only_run(tmp_path / "runs")
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == 6
    assert status["averaged_checkpoints"] == [4, 6]
    report = json.loads((run / "data_report.json").read_text())
    # the two unclipped 40-frame poses pass max_frames=30; the clipped ones (20 frames) and .npy (12) stay
    assert report["train"]["total"] == 8 and report["train"]["kept"] == 6
    assert report["train"]["skipped"] == {"more frames than signal.max_frames": 2}
    result = json.loads((run / "eval" / "test.json").read_text())
    assert set(result["metrics"]) == {"bleu", "chrf", "ter"}
    assert all(result["signatures"][m].startswith(SACREBLEU[0]) and SACREBLEU[1] in result["signatures"][m]
               for m in ("bleu", "chrf", "ter"))
    assert result["coverage"]["evaluated"] == 3 and result["coverage"]["total"] == 4
    predictions = (run / "predictions" / "test.jsonl").read_text().splitlines()
    assert len(predictions) == 3
    meta = json.loads((run / "model" / "plait_model.json").read_text())
    assert meta["family"] == "mapper" and meta["input_dim"] == 534  # holistic poses after reduction


def test_signs_overfit_reaches_full_chrf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "cache"))
    train = generate_signs(8, 0, 0, 6, 2, 3, 0.05, 5) / "train.tsv"
    exp = tsv_experiment(tmp_path, train, train,
                         train={"max_steps": 120, "batch_size": 8, "lr": 3e-3, "schedule": {"kind": "cosine", "warmup_steps": 10}},
                         eval={"metrics": ["chrf"], "headline": "chrf"})
    assert main(["run", str(exp), "--no-progress"]) == 0
    result = json.loads((only_run(tmp_path / "runs") / "eval" / "test.json").read_text())
    assert result["metrics"]["chrf"] >= 99.0


def test_signs_quickstart_pipeline_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "cache"))
    quickstart = Path(__file__).parents[2] / "experiments" / "signs-quickstart.yaml"
    overrides = ["data.source.train_size=64", "data.source.validation_size=8", "data.source.test_size=8",
                 "train.epochs=1", f"output_dir={tmp_path / 'runs'}"]
    assert main(["run", str(quickstart), "--no-progress", *sum((["--set", o] for o in overrides), [])]) == 0
    run = only_run(tmp_path / "runs")
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    result = json.loads((run / "eval" / "test.json").read_text())
    assert set(result["signatures"]) == {"bleu", "chrf", "ter"}
    assert result["generation"]["max_new_tokens"] >= 3  # derived from the training targets
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["mapper"] == {"kind": "conv", "layers": 1, "kernel_size": 3, "stride": 2,
                                        "activation": "gelu"}
    assert (run / "model" / "model.safetensors").exists() and (run / "model" / "tokenizer.json").exists()


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("plait: error:")]
    assert len(lines) == 1, lines
    return lines[0]


def test_misspelled_mapper_kind_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = mixed_dataset(tmp_path / "data")
    exp = tsv_experiment(tmp_path, files["train"], files["test"])
    line = one_error_line(capsys, ["run", str(exp), "--set", "model.mapper.kind=lineer"])
    assert "model.mapper" in line and "'lineer'" in line and "'linear'" in line
    assert not (tmp_path / "runs").exists()


def test_tsv_missing_column_exits_2_naming_file_and_column(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    files = mixed_dataset(tmp_path / "data")
    lines = files["train"].read_text().splitlines()
    header = lines[0].split("\t")
    drop = header.index("decoder_prompt")
    files["train"].write_text("\n".join("\t".join(c for i, c in enumerate(row.split("\t")) if i != drop)
                                        for row in lines) + "\n")
    line = one_error_line(capsys, ["run", str(tsv_experiment(tmp_path, files["train"], files["test"]))])
    assert str(files["train"]) in line and "missing column 'decoder_prompt'" in line
    assert not (tmp_path / "runs").exists()


def test_missing_pose_file_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = mixed_dataset(tmp_path / "data")
    (tmp_path / "data" / "poses" / "2.pose").unlink()
    line = one_error_line(capsys, ["run", str(tsv_experiment(tmp_path, files["train"], files["test"]))])
    assert str(tmp_path / "data" / "poses" / "2.pose") in line and "missing file: 1" in line
    assert not (tmp_path / "runs").exists()
