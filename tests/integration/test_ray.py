"""`plait sweep --launcher ray`: a 4-trial sweep on a Ray head started here on 127.0.0.1; one trial
fails once, is retried by Ray with the same parameters, and every trial ends in its run directory."""

from __future__ import annotations

import pytest
import yaml

from plait.cli import main
from plait.runs.rundir import find_runs
from plait.sweep import backend, ledger
from plait.sweep.load import load_sweep
from tests.tiny import tiny

ray = pytest.importorskip("ray")

TRIAL = {"train.max_steps": 2, "train.log_every": 1, "data.source.train_size": 16, "data.source.validation_size": 4,
         "data.source.test_size": 4, "eval.metrics": ["exact_match"]}
# the experiment as a function, which fails the first time a Ray worker builds a trial from it
EXPERIMENT = """
import os, sys
EXP = {exp!r}

def build():
    worker = "ray" in sys.modules and sys.modules["ray"]._private.worker.global_worker.mode == 1  # WORKER_MODE
    if worker:
        try:
            os.rename({marker!r}, {marker!r} + ".used")  # exactly one worker wins the rename
        except FileNotFoundError:
            return EXP
        raise RuntimeError("injected failure")
    return EXP
"""


def test_four_trials_on_a_local_head_one_retried(ray_head, tmp_path):
    head = ray_head
    assert head.startswith("127.0.0.1:")
    marker = tmp_path / "fail-once"
    marker.touch()
    exp = tiny(**TRIAL)
    exp["name"] = "tiny"
    (tmp_path / "exp.py").write_text(EXPERIMENT.format(exp=exp, marker=str(marker)))
    sweep = tmp_path / "ray.yaml"
    sweep.write_text(yaml.safe_dump({"experiment": "exp.py:build", "output_dir": str(tmp_path / "sweeps"),
                                     "space": {"train.lr": [1e-3, 2e-3, 3e-3, 4e-3]}, "sampler": {"kind": "grid"}}))
    code = main(["sweep", str(sweep), "--launcher", "ray", "--address", head, "--max-retries", "1"])
    assert code == 0
    assert not marker.exists() and (tmp_path / "fail-once.used").exists()  # the failure did happen

    cfg = load_sweep(sweep)
    study = backend.load_study(cfg, str(sweep))
    trials = study.get_trials(deepcopy=False)
    assert ledger.counts(study) == {"complete": 4}
    (failed,) = [t for t in trials if t.state.name == "FAIL"]
    assert "injected failure" in failed.user_attrs[ledger.OUTCOME]
    (retry,) = [t for t in trials if t.user_attrs.get(ledger.RETRY_OF) == failed.number]
    assert retry.state.name == "COMPLETE" and retry.params == failed.params
    assert sorted(t.params["train.lr"] for t in trials if t.state.name == "COMPLETE") == [1e-3, 2e-3, 3e-3, 4e-3]

    runs = find_runs([backend.sweep_dir(cfg) / "runs"])
    assert len(runs) == 4 and all(r.status().state == "finished" for r in runs)
    assert sorted(r.status().tags["trial"] for r in runs) == sorted(
        str(t.number) for t in trials if t.state.name == "COMPLETE")
