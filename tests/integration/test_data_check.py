"""`plait data check`, and what a new user's data meets first: missing files, image_root, output_dir, warm-up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from PIL import Image

from plait.cli import main
from plait.config.load import load_experiment
from plait.errors import UserError
from plait.pipeline import prepare_data
from tests.tiny import write_experiment


def manifest_data(folder: Path, good: int = 8, answers: tuple[str, ...] = ("Red.", "A big blue circle.")) -> Path:
    """A JSONL manifest of `good` readable images, one missing and one empty file; returns its path."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(good):
        Image.new("RGB", (16, 16), (40 * i % 255, 0, 0)).save(folder / "img" / f"{i}.png")
        rows.append({"id": f"ok{i}", "image": f"img/{i}.png", "prompt": "<image>\nWhat is it?",
                     "target": answers[i % len(answers)]})
    (folder / "img" / "empty.png").write_bytes(b"")
    rows += [{"id": "gone", "image": "img/gone.png", "prompt": "<image>\nWhat?", "target": "x"},
             {"id": "empty", "image": "img/empty.png", "prompt": "<image>\nWhat?", "target": "x"}]
    path = folder / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_data_check_prints_counts_reasons_bad_files_and_token_lengths(tmp_path, capsys):
    manifest = manifest_data(tmp_path)
    path = write_experiment(tmp_path, "mine", **{"data.source": {"kind": "manifest", "train": str(manifest)},
                                                 "data.max_bad_fraction": 0.5})
    assert main(["data", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "train: 10 samples, 8 usable, 2 skipped (empty file: 1, missing file: 1)" in out
    assert f"gone: {tmp_path / 'img' / 'gone.png'}: missing file" in out
    assert f"empty: {tmp_path / 'img' / 'empty.png'}: empty file" in out
    assert "model.language takes 64 positions" in out
    # prompt "\nWhat is it?": the word-boundary marker, newline, What, is, it, ?; targets "Red." (2) and
    # "A big blue circle." (5), each + EOS: the median of 3s and 6s is 4.5
    assert "train: p50/p90/p99/max prompt 6/6/6/6  target 4/6/6/6  total 10/12/12/12" in out
    assert not (tmp_path / "runs").exists()  # nothing written


def test_data_check_says_where_a_run_would_stop_and_exits_2(tmp_path, capsys):
    manifest = manifest_data(tmp_path, good=3)
    path = write_experiment(tmp_path, "mine", **{"data.source": {"kind": "manifest", "train": str(manifest)}})
    assert main(["data", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert "train: 5 samples, 3 usable, 2 skipped" in captured.out
    assert "data (train split): 2 of 5 unusable, more than data.max_bad_fraction=0.05" in captured.err
    assert not (tmp_path / "runs").exists()


def test_validate_reports_a_missing_data_file_by_its_dotted_key(tmp_path, capsys):
    path = write_experiment(tmp_path, "mine", **{"data.source": {"kind": "manifest", "train": "nowhere.jsonl"}})
    assert main(["validate", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: data.source.train: {tmp_path / 'nowhere.jsonl'} does not exist" in err
    with pytest.raises(UserError, match=r"data.source.train: .*nowhere.jsonl does not exist"):
        prepare_data(load_experiment(path), dry_run=False)


def test_llava_images_not_found_name_data_source_image_root(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "images" / "a.png")
    conversations = [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "A square."}]
    (tmp_path / "llava.json").write_text(json.dumps([{"id": "a", "image": "a.png", "conversations": conversations}]))
    path = write_experiment(tmp_path, "llava", **{"data.source": {"kind": "llava_json", "train": "llava.json"}})
    with pytest.raises(UserError, match=r"missing file: 1.*data\.source\.image_root \(the JSON file's folder\)"):
        prepare_data(load_experiment(path), dry_run=False)
    fixed = write_experiment(tmp_path, "llava", **{"data.source": {"kind": "llava_json", "train": "llava.json",
                                                                   "image_root": "images"}})
    assert prepare_data(load_experiment(fixed), dry_run=False).reports["train"]["kept"] == 1


def test_output_dir_in_a_file_is_relative_to_it_and_set_to_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "exps"
    folder.mkdir()
    path = write_experiment(folder, "mine", output_dir="runs-here")
    assert load_experiment(path).output_dir == str(folder / "runs-here")
    monkeypatch.chdir(tmp_path)
    assert load_experiment(path, ["output_dir=elsewhere"]).output_dir == "elsewhere"  # an override has no file
    assert load_experiment(path, [f"output_dir={tmp_path}/abs"]).output_dir == f"{tmp_path}/abs"
    data = yaml.safe_load(path.read_text())
    del data["output_dir"]
    path.write_text(yaml.safe_dump(data))
    assert load_experiment(path).output_dir == "runs"  # the default: the working directory's runs/
    assert os.getcwd() == str(tmp_path)


def test_a_warm_up_longer_than_max_steps_is_an_error_naming_both_keys(tmp_path, capsys):
    path = write_experiment(tmp_path, "mine", **{"train.schedule": {"kind": "cosine", "warmup_steps": 10}})
    assert main(["validate", str(path), "--quiet", "--set", "train.max_steps=10"]) == 2
    err = capsys.readouterr().err
    assert "train.schedule.warmup_steps: 10 warm-up steps do not fit in train.max_steps=10" in err
    assert main(["validate", str(path), "--quiet", "--set", "train.max_steps=11"]) == 0
    staged = write_experiment(tmp_path, "staged", **{
        "stages": [{"name": "a", "trainable": ["projector"], "train": {"max_steps": 3,
                                                                        "schedule": {"kind": "step", "warmup_steps": 5}}}]})
    assert main(["validate", str(staged), "--quiet"]) == 2
    assert "stages[0].train.schedule.warmup_steps: 5 warm-up steps do not fit in stages[0].train.max_steps=3" in (
        capsys.readouterr().err)
