"""SLURM through submitit's local executor: a job pre-empted mid-training checkpoints, is requeued,
resumes its run directory and ends with the weights of an uninterrupted job; `plait ls` shows the job."""

from __future__ import annotations

import os
import signal
import time

import pytest
import yaml
import torch
from safetensors.torch import load_file

from plait.cli import main
from plait.config import load_experiment
from plait.errors import UserError
from plait.config.launch import SlurmConfig
from plait.launch.slurm import CLUSTER_ENV, submit
from plait.runs import atomic
from plait.runs.rundir import find_runs
from tests.tiny import write_experiment

STEPS = 12
SETTINGS = {"train.max_steps": -1, "train.epochs": 2, "train.batch_size": 4, "train.grad_accum": 2,
            "train.save_every": -1, "train.log_every": 1, "model.language.config.attention_dropout": 0.2,
            "eval.splits": []}


def train_losses(run):
    return [(r["step"], r["loss"]) for r in atomic.read_jsonl(run.metrics) if r.get("split") == "train"]


def test_preempted_job_is_requeued_and_matches_an_uninterrupted_job(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(CLUSTER_ENV, "local")
    spec = write_experiment(tmp_path, "slurm", **SETTINGS)
    run, job = submit(load_experiment(str(spec), []), SlurmConfig(), str(spec), [])
    assert run.status().job.id == job.job_id
    deadline = time.monotonic() + 150
    while run.status().step < 2 and time.monotonic() < deadline and not job.done():
        time.sleep(0.05)
    os.kill(run.status().pid, signal.SIGUSR2)  # what SLURM sends the job's task before its time limit

    # meanwhile, the same experiment as an uninterrupted job, through the CLI
    assert main(["run", str(spec), "--launcher", "slurm", "--wait", "--no-progress"]) == 0
    assert job.result() == str(run.path.resolve()), job.stderr()
    status = run.status()
    assert status.state == "finished" and status.step == STEPS
    stopped = [r.from_step for r in status.resumes]
    assert len(stopped) == 1 and 2 <= stopped[0] < STEPS  # requeued once, from the pre-emption checkpoint
    assert (status.job.id, status.job.state) == (job.job_id, "COMPLETED")
    assert "Requeued job" in job.stderr() or "Requeued job" in job.stdout()
    assert [s for s, _ in train_losses(run)] == list(range(1, STEPS + 1))

    (plain,) = [r for r in find_runs([tmp_path / "runs"]) if r.path.resolve() != run.path.resolve()]
    assert plain.status().state == "finished" and not plain.status().resumes
    ours, theirs = load_file(run.model / "model.safetensors"), load_file(plain.model / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert train_losses(run) == train_losses(plain)

    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "300")  # a table as wide as its text
    assert main(["ls", str(tmp_path / "runs")]) == 0
    listed = capsys.readouterr().out
    assert f"{job.job_id} COMPLETED" in listed and f"{plain.status().job.id} COMPLETED" in listed


def test_slurm_without_sbatch_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv(CLUSTER_ENV, "slurm")
    monkeypatch.setenv("PATH", str(tmp_path))
    spec = write_experiment(tmp_path, "nosbatch")
    with pytest.raises(UserError, match="no `sbatch`"):
        submit(load_experiment(str(spec), []), SlurmConfig(), str(spec), [])


def test_bad_sbatch_flag_names_the_flag(tmp_path, capsys):
    spec = write_experiment(tmp_path, "badflag")
    assert main(["run", str(spec), "--launcher", "slurm", "--sbatch", "constraint"]) == 2
    assert "--sbatch constraint: expected KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_sweep_workers_run_as_a_job_array(tmp_path, monkeypatch):
    from plait.launch.sweep import sweep_on_slurm
    from plait.sweep import backend, ledger
    from plait.sweep.load import load_sweep

    monkeypatch.setenv(CLUSTER_ENV, "local")
    write_experiment(tmp_path, "tiny", **{"train.max_steps": 2, "data.source.train_size": 16,
                                          "data.source.validation_size": 4, "data.source.test_size": 4})
    path = tmp_path / "array.yaml"
    path.write_text(yaml.safe_dump({"experiment": "tiny.yaml", "output_dir": str(tmp_path / "sweeps"),
                                    "space": {"train.lr": [1e-3, 2e-3]}, "sampler": {"kind": "grid"}}))
    cfg = load_sweep(path)
    (job,) = sweep_on_slurm(cfg, [], str(path), SlurmConfig(array_parallelism=1), workers=1, resume=False)
    job.result()
    study = backend.load_study(cfg, str(path))
    assert ledger.counts(study) == {"complete": 2}
    runs = find_runs([backend.sweep_dir(cfg) / "runs"])
    assert sorted(r.status().tags["trial"] for r in runs) == ["0", "1"]
