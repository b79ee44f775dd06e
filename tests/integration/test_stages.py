"""Staged training in one run directory, and continued fine-tuning from another run (init_from)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from plait.cli import main
from plait.config import load_experiment
from plait.errors import ConfigError
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.runs.rundir import find_runs
from plait.train.seed import seed_everything
from tests.tiny import write_experiment

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
STAGES = [
    {"name": "align", "trainable": ["projector"], "train": {"lr": 1e-2, "max_steps": 3, "save_every": 3}},
    {"name": "joint", "trainable": ["projector", "lora"],
     "train": {"max_steps": 4, "save_every": 4, "schedule": {"kind": "linear"}}},
]


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stages")
    path = write_experiment(folder, "staged", **{"model.language.lora": LORA, "stages": STAGES, "train.log_every": 1})
    assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = find_runs([folder / "runs"])
    exp = load_experiment(path)
    seed_everything(exp.seed)
    initial = get_family("projector").build(exp.model, prepare_data(exp, False).splits["train"], BuildOptions()).model
    return {"folder": folder, "path": path, "run": run, "exp": exp, "initial": initial.state_dict()}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    assert set(before) == set(after)
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_stage_one_trains_only_the_projector_and_stage_two_projector_and_lora(staged):
    run, initial = staged["run"], staged["initial"]
    after_one = load_file(str(run.checkpoints / "align" / "step-3" / "model.safetensors"))
    after_two = load_file(str(run.checkpoints / "step-4" / "model.safetensors"))
    projector = {k for k in initial if k.startswith("projector.")}
    lora = {k for k in initial if "lora_" in k}
    assert projector and lora
    assert changed(initial, after_one) == projector  # vision, language and LoRA bit-identical
    assert changed(after_one, after_two) == projector | lora  # vision and language base bit-identical


def test_each_stage_is_logged_with_its_checked_trainable_count_and_schedule(staged):
    run, initial = staged["run"], staged["initial"]
    events = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    stages = [e for e in events if e.get("event") == "stage"]
    count = {part: sum(v.numel() for k, v in initial.items() if test(k)) for part, test in
             (("projector", lambda k: k.startswith("projector.")), ("lora", lambda k: "lora_" in k))}
    assert [(s["stage"], s["trainable_parameters"]) for s in stages] == [
        ("align", count["projector"]), ("joint", count["projector"] + count["lora"])]
    rates = {stage: [e["learning_rate"] for e in events if e.get("stage") == stage and e["split"] == "train"]
             for stage in ("align", "joint")}
    assert rates["align"] == [pytest.approx(1e-2)] * 3  # the stage's lr, constant as the experiment's schedule
    assert rates["joint"] == sorted(rates["joint"], reverse=True) and rates["joint"][0] == pytest.approx(1e-3)
    status = run.status()
    assert status.state == "finished" and status.stage == "joint" and status.stage_index == 1
    assert [(s.name, s.steps) for s in status.stages] == [("align", 3), ("joint", 4)]
    assert [p.name for p in run.complete_checkpoints()] == ["step-4"]  # stage one's moved to checkpoints/align/


def test_records_count_steps_across_stages_so_curves_follow_one_another(staged):
    events = [json.loads(line) for line in staged["run"].metrics.read_text().splitlines()]
    train = [(e["stage"], e["step"], e["global_step"]) for e in events if e["split"] == "train"]
    assert train == [("align", 1, 1), ("align", 2, 2), ("align", 3, 3),
                     ("joint", 1, 4), ("joint", 2, 5), ("joint", 3, 6), ("joint", 4, 7)]
    starts = [(e["stage"], e["global_step"]) for e in events if e.get("event") == "stage"]
    assert starts == [("align", 0), ("joint", 3)]
    (test,) = [e for e in events if e["split"] == "test"]
    assert (test["step"], test["global_step"]) == (4, 7)


def test_stage_train_takes_the_experiment_train_with_its_keys_replaced(staged):
    stages = staged["exp"].stages
    assert stages[0].train.lr == 1e-2 and stages[0].train.batch_size == staged["exp"].train.batch_size
    assert stages[1].train.lr == staged["exp"].train.lr and stages[1].train.schedule.kind == "linear"
    saved = yaml.safe_load((staged["run"].config).read_text())
    assert saved["stages"][1]["train"]["schedule"] == {"warmup_steps": 0, "kind": "linear"}


@pytest.mark.parametrize("stages, message", [
    ([{"name": "a", "trainable": ["decoder"]}], "unknown part 'decoder'"),
    ([{"name": "a", "trainable": ["vision"]}], "`vision` is frozen"),
    ([{"name": "a", "trainable": ["language"]}], "has a LoRA adapter"),
    ([{"name": "a", "trainable": ["projector"]}, {"name": "a", "trainable": ["lora"]}], "names must differ"),
    ([{"name": "a", "trainable": []}], "at least 1 item"),
])
def test_bad_stages_are_config_errors(tmp_path, stages, message):
    path = write_experiment(tmp_path, "bad", **{"model.language.lora": LORA, "stages": stages})
    with pytest.raises(ConfigError, match=message):
        load_experiment(path)


def test_lora_stage_needs_an_adapter(tmp_path):
    path = write_experiment(tmp_path, "bad", stages=[{"name": "a", "trainable": ["lora"]}])
    with pytest.raises(ConfigError, match="needs model.language.lora"):
        load_experiment(path)


def test_init_from_continues_from_another_runs_model(staged, tmp_path):
    first = staged["run"]
    path = write_experiment(tmp_path, "more", **{"model.language.lora": LORA, "train.max_steps": 1, "train.lr": 1e-12})
    assert main(["run", str(path), "--no-progress", "--set", f"init_from={first.path}"]) == 0
    (second,) = find_runs([tmp_path / "runs"])
    before = load_file(str(first.model / "projector.safetensors"))
    after = load_file(str(second.model / "projector.safetensors"))
    fresh = {k.removeprefix("projector."): v for k, v in staged["initial"].items() if k.startswith("projector.")}
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-8)
        assert not torch.allclose(after[key], fresh[key])
    adapter = load_file(str(first.model / "adapter" / "adapter_model.safetensors"))
    again = load_file(str(second.model / "adapter" / "adapter_model.safetensors"))
    assert all(torch.allclose(adapter[k], again[k], atol=1e-8) for k in adapter)


def test_init_from_refuses_a_different_model(staged, tmp_path, capsys):
    path = write_experiment(tmp_path, "other", **{"model.language.lora": LORA, "model.projector.layers": 3})
    assert main(["run", str(path), "--set", f"init_from={staged['run'].path}"]) == 2
    assert "model.projector.layers" in capsys.readouterr().err
    assert main(["run", str(path), "--set", f"init_from={tmp_path}"]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert find_runs([tmp_path / "runs"]) == []  # refused before any run directory was made
