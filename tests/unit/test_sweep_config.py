"""Sweep files: strict schema, grid sizes, overrides that round-trip, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from plait.errors import ConfigError, UserError
from plait.sweep.config import ChoiceParam, FloatParam, IntParam
from plait.sweep.load import check_against_experiment, load_sweep, objective_metric, split_overrides, trial_count
from plait.sweep.space import as_overrides, grid_size, grid_values, yaml_scalar
from tests.tiny import write_experiment

EXAMPLES = Path(__file__).resolve().parents[2] / "experiments" / "sweeps"


def write_sweep(folder: Path, **fields) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"experiment": "tiny.yaml", **fields}, sort_keys=False))
    return path


def test_phoenix_grid_is_the_seed_grid_of_54_configurations():
    cfg = load_sweep(EXAMPLES / "phoenix-grid.yaml")
    assert cfg.sampler.kind == "grid" and cfg.experiment.endswith("experiments/phoenix.yaml")
    grid = grid_values(cfg.space, "phoenix-grid")
    assert grid == {"train.lr": [5e-6, 1e-5, 2e-5], "train.schedule.warmup_steps": [0, 500, 1000],
                    "train.label_smoothing": [0.0, 0.1], "train.grad_accum": [1, 2, 3]}
    assert grid_size(cfg.space, "phoenix-grid") == 54 == trial_count(cfg, "phoenix-grid")


def test_quickstart_tpe_fits_the_quickstart_experiment():
    cfg = load_sweep(EXAMPLES / "quickstart-tpe.yaml")
    exp, base = check_against_experiment(cfg, [], "quickstart-tpe.yaml")
    assert cfg.sampler.kind == "tpe" and cfg.pruner.kind != "none" and exp.train.eval_every > 0
    assert objective_metric(cfg, exp) == ("exact_match", "maximize")
    assert exp.eval.splits == ["test", "validation"]  # the objective split is added to the quickstart's [test]
    assert base == [*cfg.overrides, "eval.splits=['test', 'validation']"]


def test_space_kinds_and_list_shorthand(tmp_path):
    write_experiment(tmp_path)
    path = write_sweep(tmp_path, n_trials=3, space={
        "train.lr": {"kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "train.batch_size": {"kind": "int", "low": 2, "high": 8, "step": 2},
        "train.weight_decay": [0.0, 0.1]})
    cfg = load_sweep(path)
    assert isinstance(cfg.space["train.lr"], FloatParam) and cfg.space["train.lr"].log
    assert isinstance(cfg.space["train.batch_size"], IntParam)
    assert cfg.space["train.weight_decay"] == ChoiceParam(values=[0.0, 0.1])
    assert cfg.name == "sweep" and cfg.experiment == str((tmp_path / "tiny.yaml").resolve())
    with pytest.raises(UserError, match="space.train.lr: the grid sampler needs a choice list or a stepped"):
        grid_values(cfg.space, "sweep.yaml")
    assert grid_values({"k": IntParam(low=2, high=8, step=2)}, "w") == {"k": [2, 4, 6, 8]}
    assert grid_values({"k": FloatParam(low=0.0, high=0.3, step=0.1)}, "w") == {"k": [0.0, 0.1, 0.2, 0.3]}


@pytest.mark.parametrize("value", [1e-5, 2e-5, 0.1, 3, "3", "a b", True, None, "1e-5"])
def test_override_values_parse_back_to_themselves(value):
    (item,) = as_overrides({"k": value})
    assert yaml.safe_load(item.partition("=")[2]) == value
    assert type(yaml.safe_load(yaml_scalar(value))) is type(value)


@pytest.mark.parametrize("fields, message", [
    ({"space": {"train.lr": [1e-3]}, "n_trails": 3}, "n_trails: unknown key; valid keys here: direction, "),
    ({"space": {"train.lr": {"kind": "float", "low": 0.0, "high": 1.0, "log": True}}, "n_trials": 2},
     "space.train.lr: a log range needs low > 0"),
    ({"space": {"train.lr": [1e-3]}, "sampler": {"kind": "tpe", "seeds": 1}, "n_trials": 2},
     "sampler.seeds: unknown key; valid keys here: constant_liar, kind, multivariate, n_startup_trials, seed"),
    ({"space": {"train.lr": [1e-3]}}, "n_trials is required unless the sampler is grid"),
    ({"space": {"train.lr": [1e-3]}, "n_trials": 2, "storage": "db.sqlite"}, "storage: got 'db.sqlite': expected a"),
    ({"space": {}, "n_trials": 2}, "space: "),
])
def test_schema_errors_name_the_field(tmp_path, fields, message):
    with pytest.raises(ConfigError) as err:
        load_sweep(write_sweep(tmp_path, **fields))
    assert any(message in line for line in err.value.lines), err.value.lines


@pytest.mark.parametrize("fields, message", [
    ({"space": {"train.lrr": [1e-3]}, "n_trials": 2}, "train.lrr: unknown key"),
    ({"space": {"train.lr": [1e-3]}, "n_trials": 2, "metric": "rouge"}, "metric: 'rouge' is not computed"),
    ({"space": {"train.lr": [1e-3]}, "n_trials": 2, "pruner": {"kind": "median"}},
     "pruner median needs validation during training; add `train.eval_every=N`"),
    ({"space": {"train.lr": [1e-3, 2e-3]}, "sampler": {"kind": "grid"}, "n_trials": 3},
     "n_trials: 3 is more than the grid's 2 combinations"),
])
def test_sweep_is_checked_against_its_experiment_before_anything_runs(tmp_path, fields, message):
    write_experiment(tmp_path)
    cfg = load_sweep(write_sweep(tmp_path, **fields))
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace("`", ".")):
        check_against_experiment(cfg, [], "sweep.yaml")
    assert not (tmp_path / "sweeps").exists()


def test_set_splits_into_sweep_keys_and_experiment_keys(tmp_path):
    write_experiment(tmp_path)
    sweep_set, exp_set = split_overrides(["sweep.n_trials=5", "train.max_steps=2", "sweep.sampler.kind=random"])
    assert exp_set == ["train.max_steps=2"]
    cfg = load_sweep(write_sweep(tmp_path, space={"train.lr": [1e-3, 2e-3]}, n_trials=2), sweep_set)
    assert cfg.n_trials == 5 and cfg.sampler.kind == "random"
    exp, _ = check_against_experiment(cfg, exp_set, "sweep.yaml")
    assert exp.train.max_steps == 2 and exp.eval.splits == ["test", "validation"]


def test_a_choice_may_be_a_mapping_that_replaces_a_section():
    import optuna

    from plait.sweep.config import ChoiceParam
    from plait.sweep.space import as_overrides, grid_values, suggest

    schedules = [{"kind": "cosine", "warmup_steps": 10}, {"kind": "step", "step_size": 5, "gamma": 0.5}]
    space = {"train.schedule": ChoiceParam(values=schedules), "train.lr": ChoiceParam(values=[0.1, 0.2])}
    assert len(grid_values(space, "x")["train.schedule"]) == 2
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(grid_values(space, "x"), seed=0))
    drawn = [suggest(study.ask(), space) for _ in range(4)]
    assert sorted(str(d["train.schedule"]) for d in drawn) == sorted(str(s) for s in schedules for _ in (0, 1))
    overrides = as_overrides({"train.schedule": schedules[1]})
    assert overrides == ["train.schedule={gamma: 0.5, kind: step, step_size: 5}"]
