"""One trial's plumbing, with the training replaced by a stand-in: seeds, tags, overrides, the pruning hook on the
first seed only, the objective read from the run directories, and failures kept inside the trial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import plait.pipeline
from plait.runs.rundir import create_run_dir
from plait.sweep.trial import TrialPlan, objective_value, run_trial, trial_runs
from plait.train.callbacks import Pruned
from tests.tiny import write_experiment


@pytest.fixture()
def plan(tmp_path):
    exp = write_experiment(tmp_path, **{"train.schedule": {"kind": "linear"}})
    return TrialPlan(str(exp), ["train.max_steps=3"], "s", tmp_path / "sweeps" / "s" / "runs", [3, 5],
                     "exact_match", "validation")


def fake_training(seen, score=lambda exp: 10.0 * exp.seed, fail_at=None):
    def run_experiment(exp, progress=True, argv=None, on_validation=None):
        seen.append((exp, on_validation))
        run = create_run_dir(exp.output_dir, exp.name)
        run.update_status(tags=exp.tags)
        if on_validation is not None:
            on_validation(2, {"exact_match": 1.0})
        if exp.seed == fail_at:
            raise RuntimeError("diverged")
        (run.eval_dir).mkdir()
        (run.eval_dir / "validation.json").write_text(json.dumps({"metrics": {"exact_match": score(exp)}}))
        run.log({"step": 2, "split": "validation", "loss": 0.5 + exp.seed})
        return run

    return run_experiment


def test_seeds_tags_overrides_and_mean(plan, monkeypatch):
    seen, hook_calls = [], []
    monkeypatch.setattr(plait.pipeline, "run_experiment", fake_training(seen))
    outcome = run_trial(plan, 7, {"train.lr": 2e-5, "train.grad_accum": 2}, lambda s, v: hook_calls.append(s))
    assert outcome.state == "complete" and outcome.values == [30.0, 50.0] and outcome.value == 40.0
    assert [exp.seed for exp, _ in seen] == [3, 5] and hook_calls == [2]  # the hook watches the first seed only
    assert seen[0][1] is not None and seen[1][1] is None
    exp = seen[0][0]
    assert (exp.train.lr, exp.train.grad_accum, exp.train.max_steps) == (2e-5, 2, 3)
    assert exp.tags == {"sweep": "s", "trial": "7"} and exp.output_dir == str(plan.runs_dir)
    assert [r.path for r in trial_runs(plan.runs_dir, "s", 7)] == sorted(Path(p) for p in outcome.runs)
    assert objective_value(trial_runs(plan.runs_dir, "s", 7)[0], "loss", "validation") in (3.5, 5.5)


def test_pruned_and_failed_trials_end_the_trial(plan, monkeypatch):
    seen = []
    monkeypatch.setattr(plait.pipeline, "run_experiment", fake_training(seen, fail_at=5))
    outcome = run_trial(plan, 1, {}, None)
    assert outcome.state == "failed" and outcome.error == "RuntimeError: diverged" and outcome.values == [30.0]

    def prune(step, values):
        raise Pruned(step)

    seen.clear()
    assert run_trial(plan, 2, {}, prune).state == "pruned" and len(seen) == 1  # no further seeds
    monkeypatch.setattr(plait.pipeline, "run_experiment", fake_training(seen, score=lambda exp: None))
    outcome = run_trial(plan, 3, {}, None)
    assert outcome.state == "failed" and "TypeError" in outcome.error
