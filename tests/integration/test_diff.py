"""`plait diff RUN_A RUN_B`: config, environment, loss and weight differences, final or at a step."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from plait.cli import main
from plait.runs import atomic
from plait.runs.rundir import RunDir, find_runs
from tests.tiny import write_experiment

QUICK = {"train.max_steps": 4, "train.log_every": 1, "train.save_every": 2, "train.save_init": True,
         "data.source.train_size": 32, "data.source.test_size": 8}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff")
    exp = write_experiment(folder, "diff", **QUICK)
    assert main(["run", str(exp), "--no-progress"]) == 0
    assert main(["run", str(exp), "--set", "seed=1", "--no-progress"]) == 0
    # two runs started in the same second sort by their random suffix: tell them apart by seed
    first, second = sorted(find_runs([folder / "runs"]), key=lambda run: yaml.safe_load(run.config.read_text())["seed"])
    twin = RunDir(first.path.with_name(first.name + "-twin"))
    shutil.copytree(first.path, twin.path)
    env = atomic.read_json(twin.env)
    env["packages"]["torch"] = "0.0.1"
    env["git"] = {**(env.get("git") or {}), "commit": "0" * 40}
    atomic.write_json(twin.env, env)
    return first, second, twin


def diff(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["diff", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_same_run_twice_differs_only_in_environment(runs, capsys):
    first, _, twin = runs
    code, out, _ = diff(capsys, first.path, twin.path, "--json")
    result = json.loads(out)
    assert code == 0 and result["config"] == [] and result["losses"] is None
    assert result["weights"]["differing"] == [] and result["weights"]["identical"] == result["weights"]["tensors"] > 0
    keys = [key for key, _, _ in result["env"]]
    assert keys == ["git.commit", "packages.torch"]


def test_different_seed_shows_in_config_losses_and_weights(runs, capsys):
    first, second, _ = runs
    code, out, _ = diff(capsys, first.path, second.path)
    assert code == 0
    assert "config: 1 difference(s)\n  seed: 0 -> 1" in out
    assert "environment: 1 difference(s)\n  seed: 0 -> 1" in out
    assert "losses: first differ at step 1" in out
    assert "weights (final model):" in out and "tensors differ" in out


def test_weights_at_a_checkpoint_and_as_built(runs, capsys):
    first, second, twin = runs
    code, out, _ = diff(capsys, first.path, second.path, "--step", "0", "--json")
    initial = json.loads(out)["weights"]
    assert code == 0 and initial["differing"] and initial["largest_abs_diff"] > 0
    assert {d["status"] for d in initial["differing"]} == {"different"}
    code, out, _ = diff(capsys, first.path, twin.path, "--step", "2", "--json")
    assert code == 0 and json.loads(out)["weights"]["differing"] == []
    code, _, err = diff(capsys, first.path, twin.path, "--step", "3")
    assert code == 2 and "no complete checkpoint at that step (complete: 2, 4" in err


def test_not_a_run_directory_is_a_user_error(runs, tmp_path, capsys):
    code, _, err = diff(capsys, runs[0].path, tmp_path)
    assert code == 2 and f"{tmp_path}: not a run directory" in err
