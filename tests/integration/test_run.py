"""`plait run` end to end on a tiny model: the run-directory contract, freezing, dry runs, listing."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from plait.cli import main
from plait.config import load_experiment
from plait.models.family import BuildOptions, get_family
from plait.pipeline import load_run, prepare_data
from plait.runs.rundir import find_runs
from plait.train.seed import seed_everything
from tests.tiny import write_experiment


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    path = write_experiment(folder, "tiny")
    assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = find_runs([folder / "runs"])
    return path, run


def test_run_directory_contract(finished):
    path, run = finished
    for name in ("config.yaml", "env.json", "status.json", "metrics.jsonl", "data_report.json",
                 "model/model.safetensors", "model/plait_model.json", "model/tokenizer.json",
                 "eval/test.json", "predictions/test.jsonl"):
        assert (run.path / name).exists(), name
    config = yaml.safe_load(run.config.read_text())
    assert config["train"]["schedule"] == {"warmup_steps": 0, "kind": "constant"}  # defaults written out
    env = json.loads(run.env.read_text())
    assert env["seed"] == 0 and "torch" in env["packages"] and "transformers" in env["packages"]
    status = run.status()
    assert status.state == "finished" and status.step == 6 and status.dry_run is False
    assert status.headline.metric == "exact_match"
    events = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    train_steps = [e["step"] for e in events if e["split"] == "train"]
    assert train_steps == [1, 2, 4, 6]
    assert all("loss" in e and "learning_rate" in e for e in events if e["split"] == "train")
    result = json.loads((run.eval_dir / "test.json").read_text())
    assert result["coverage"] == {"evaluated": 16, "total": 16, "left_out": {}, "fraction": 1.0}
    assert "nrefs:1" in result["signatures"]["bleu"]
    assert result["generation"]["max_new_tokens"] >= 2
    predictions = [json.loads(line) for line in (run.predictions / "test.jsonl").read_text().splitlines()]
    assert len(predictions) == 16 and {"id", "prediction", "reference"} <= set(predictions[0])
    assert status.headline.value == result["metrics"]["exact_match"]


def test_frozen_parts_stay_identical_and_trained_parts_change(finished):
    path, run = finished
    exp = load_experiment(path)
    data = prepare_data(exp, dry_run=False)
    seed_everything(exp.seed)
    initial = get_family("projector").build(exp.model, data.splits["train"], BuildOptions()).model.state_dict()
    final = load_file(str(run.model / "model.safetensors")) | {  # the projector is saved apart from the bases
        f"projector.{k}": v for k, v in load_file(str(run.model / "projector.safetensors")).items()}
    vision = [k for k in final if k.startswith("vision.")]
    assert vision and all(torch.equal(initial[k], final[k]) for k in vision)
    for prefix in ("projector.", "language.model.layers.0.self_attn.q_proj"):
        keys = [k for k in final if k.startswith(prefix)]
        assert keys and all(not torch.equal(initial[k], final[k]) for k in keys), prefix


def test_reloaded_model_reproduces_predictions(finished):
    _, run = finished
    _, exp, built = load_run(run.path)
    data = prepare_data(exp, dry_run=False)
    from plait.evaluate.generate import generate

    result = json.loads((run.eval_dir / "test.json").read_text())
    again = generate(built.model, built.processor, data.splits["test"], result["generation"]["max_new_tokens"],
                     progress=False)
    saved = [json.loads(line)["prediction"] for line in (run.predictions / "test.jsonl").read_text().splitlines()]
    assert again == saved


def test_eval_command_rescores(finished, capsys):
    _, run = finished
    before = json.loads((run.eval_dir / "test.json").read_text())
    assert main(["eval", str(run.path), "--split", "test", "--no-progress"]) == 0
    after = json.loads((run.eval_dir / "test.json").read_text())
    assert after["metrics"] == before["metrics"]
    assert main(["eval", str(run.path), "--num-beams", "0"]) == 2
    assert "--num-beams: got 0: Input should be greater than or equal to 1" in capsys.readouterr().err


def test_dry_run_is_marked_and_never_mistaken(tmp_path, capsys):
    path = write_experiment(tmp_path, "dry", **{"dry_run.max_samples": 8, "dry_run.max_steps": 2})
    assert main(["run", str(path), "--dry-run", "--no-progress"]) == 0
    (run,) = find_runs([tmp_path / "runs"])
    assert run.name.startswith("dryrun-")
    status = run.status()
    assert status.dry_run is True and status.step == 2 and status.state == "finished"
    assert json.loads(run.data_report.read_text())["train"]["total"] == 8
    capsys.readouterr()
    assert main(["ls", str(tmp_path / "runs")]) == 0
    assert "dryrun-" not in capsys.readouterr().out
    assert main(["ls", str(tmp_path / "runs"), "--dry-runs"]) == 0
    assert "dryrun-" in capsys.readouterr().out


def test_several_experiments_in_sequence_never_overwrite(tmp_path):
    a = write_experiment(tmp_path, "a", **{"train.max_steps": 2})
    b = write_experiment(tmp_path, "b", **{"train.max_steps": 2})
    assert main(["run", str(a), str(b), str(a), "--no-progress"]) == 0
    runs = find_runs([tmp_path / "runs"])
    assert sorted(r.path.parent.name for r in runs) == ["a", "a", "b"]
    assert len({r.path for r in runs}) == 3


def test_corrupt_images_are_skipped_and_counted(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for i in range(30):
        Image.new("RGB", (16, 16), (40 * (i % 5), 0, 200)).save(images / f"{i}.png")
        rows.append({"id": str(i), "image": f"images/{i}.png", "prompt": "what color?", "target": f"c{i % 5}"})
    (images / "3.png").write_bytes((images / "3.png").read_bytes()[:30])   # truncated
    (images / "4.png").write_bytes(b"")                                   # zero bytes
    rows[5]["image"] = "images/nowhere.png"                               # missing
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = write_experiment(tmp_path, "corrupt", **{
        "data.source": {"kind": "manifest", "train": str(manifest), "test": str(manifest)},
        "data.max_bad_fraction": 0.2,
    })
    assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = find_runs([tmp_path / "runs"])
    assert run.status().state == "finished"
    report = json.loads(run.data_report.read_text())["train"]
    assert report["total"] == 30 and report["kept"] == 27
    assert report["skipped"]["missing file"] == 1 and report["skipped"]["empty file"] == 1
    assert sum(report["skipped"].values()) == 3
    coverage = json.loads((run.eval_dir / "test.json").read_text())["coverage"]
    assert coverage["evaluated"] == 27 and coverage["total"] == 30


def test_too_much_bad_data_stops_before_any_run_directory(tmp_path, capsys):
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps({"image": f"missing{i}.png", "prompt": "p", "target": "t"}) + "\n"
                                for i in range(4)))
    path = write_experiment(tmp_path, "allbad", **{"data.source": {"kind": "manifest", "train": str(manifest)}})
    assert main(["run", str(path)]) == 2
    assert "4 of 4 samples unusable" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
