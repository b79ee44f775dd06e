"""GLUE jobs: each fine-tune's experiment, and the launcher pass-through."""

from __future__ import annotations

import subprocess

from plait.glue import jobs
from plait.glue.config import GlueSuite


def test_job_experiment_fixes_head_data_evaluation_and_seed(tmp_path):
    suite = GlueSuite(output_dir=str(tmp_path), seed=5, experiment={"train": {"lr": 3e-4}},
                      tasks={"mnli": {"experiment": {"train": {"lr": 1e-4}}}, "stsb": {}})
    source = jobs.Pretrained("ckpt", "/models/bert", False)
    mnli = jobs.job_experiment(suite, source, "mnli", 2)
    assert mnli["seed"] == 6 and mnli["train"]["lr"] == 1e-4 and mnli["name"] == "mnli-run2"
    assert mnli["model"] == {"family": "text", "pretrained": "/models/bert", "task": "classification",
                             "problem": "single_label", "labels": ["entailment", "neutral", "contradiction"]}
    assert mnli["eval"] == {"task": "classify", "splits": ["validation", "test"], "metrics": ["accuracy"],
                            "headline": "accuracy"}
    stsb = jobs.job_experiment(suite, source, "stsb", 1)
    assert stsb["model"]["problem"] == "regression" and stsb["model"]["labels"] is None
    assert stsb["eval"]["metrics"] == ["pearson", "spearmanr"] and stsb["train"]["lr"] == 3e-4
    assert stsb["data"]["source"] == {"kind": "builtin_glue", "task": "stsb", "train_size": 2000,
                                      "validation_size": 400, "seed": 1234}


def test_a_cluster_launcher_runs_each_fine_tune_through_plait_run(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, check: calls.append(args) or subprocess.CompletedProcess(args, 0))
    job = jobs.Job("row", "rte", 1, tmp_path / "rte-run1.yaml", tmp_path)
    jobs.run_job(job, ["--launcher", "slurm", "--wait"])
    assert calls[0][1:] == ["-m", "plait", "run", str(tmp_path / "rte-run1.yaml"), "--no-progress",
                            "--launcher", "slurm", "--wait"]
