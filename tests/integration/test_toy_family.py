"""The family contract end to end: a family defined in tests/ alone goes through validate, run, eval, ls and
summarize, and the schema checks its declared capabilities."""

from __future__ import annotations

import json

import pytest
import yaml

from plait.cli import main
from plait.models import registry
from toy_family import SPEC

EXPERIMENT = {
    "name": "toy", "seed": 0, "model": {"family": "toy", "hidden": 32},
    "data": {"source": {"kind": "builtin", "name": "shapes", "task": "qa", "train_size": 200,
                        "validation_size": 8, "test_size": 60, "image_size": 16}},
    "train": {"max_steps": 150, "batch_size": 16, "lr": 0.03, "log_every": 50},
    "eval": {"splits": ["test"], "metrics": ["exact_match"]},
}


@pytest.fixture
def toy(tmp_path):
    registry.register(SPEC)
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, "output_dir": str(tmp_path / "runs")}))
    yield path
    registry.unregister("toy")


def test_a_family_from_the_test_folder_runs_through_every_command(toy, tmp_path, capsys):
    assert main(["validate", str(toy), "--quiet"]) == 0
    assert main(["run", str(toy), "--no-progress"]) == 0
    [run] = (tmp_path / "runs" / "toy").iterdir()
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished"
    first = json.loads((run / "eval" / "test.json").read_text())["metrics"]["exact_match"]
    assert first > 40.0  # chance is ~12% over the answer words: the toy model learned from its own processor
    assert main(["eval", str(run), "--split", "test", "--no-progress"]) == 0
    again = json.loads((run / "eval" / "test.json").read_text())["metrics"]["exact_match"]
    assert again == first  # reloaded through the family's load, the same predictions
    capsys.readouterr()
    assert main(["ls", str(tmp_path / "runs")]) == 0
    listed = capsys.readouterr().out
    assert "toy" in listed and "finished" in listed
    out = tmp_path / "summary"
    assert main(["summarize", str(tmp_path / "runs"), "--out", str(out), "--metric", "exact_match"]) == 0
    table = (out / "summary.md").read_text() if (out / "summary.md").exists() else \
        next(out.glob("*.md")).read_text()
    assert f"{first:.2f}" in table or f"{first:.1f}" in table


def test_capabilities_a_family_lacks_fail_at_validate(toy, capsys):
    for key, value, message in [
        ("stages", "[{name: a, trainable: [x]}]", "stages: the toy family trains in one stage"),
        ("train.padding_free", "true", "train.padding_free: the toy family cannot pack sequences"),
        ("eval.task", "classify", "eval.task: the toy family is evaluated by generate, not 'classify'"),
        ("train.metric", "bleuu", "--set train.metric: 'bleuu' is not produced by the evaluation; valid: loss, exact_match"),
    ]:
        assert main(["validate", str(toy), "--set", f"{key}={value}"]) == 2
        assert message in capsys.readouterr().err


def test_unregistered_family_is_a_config_error(tmp_path, capsys):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "model" in err and "'toy'" in err and "projector" in err
