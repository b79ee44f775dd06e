"""plait sweep end to end on tiny trials: two workers, one SIGKILLed mid-trial, the sweep killed, then resumed;
pruning ends a bad trial early and the run directory says so; plait summarize reads what the sweep left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml

from plait.cli import main
from plait.runs import atomic
from plait.sweep.load import load_sweep
from plait.sweep import backend, ledger
from tests.tiny import write_experiment

TRIAL = {"train.max_steps": 16, "train.eval_every": 8, "train.log_every": 2, "train.schedule": {"kind": "linear"},
         "data.source.train_size": 32, "data.source.validation_size": 8, "data.source.test_size": 8}
GRID = {"train.lr": [1e-3, 1e-2], "train.schedule.warmup_steps": [0, 2]}


def write_sweep(folder: Path, **fields) -> Path:
    write_experiment(folder, **TRIAL)
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump({"experiment": "tiny.yaml", "output_dir": str(folder / "sweeps"), **fields}))
    return path


def plait(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "plait", *args], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def running_worker(runs: Path, sweep: subprocess.Popen, timeout: float = 240) -> int:
    """The pid of a worker process that is training a trial right now."""
    deadline = time.time() + timeout
    while time.time() < deadline and sweep.poll() is None:
        for status in runs.glob("*/*/status.json"):
            record = atomic.read_json(status, {})
            if record.get("state") == "running" and record.get("pid") != sweep.pid:
                return record["pid"]
        time.sleep(0.05)
    sweep.kill()
    raise AssertionError(f"no worker started a trial:\n{sweep.communicate()[0][-3000:]}")


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    path = write_sweep(folder, space=GRID, sampler={"kind": "grid"})
    sweep_dir = folder / "sweeps" / "grid"
    first = plait("sweep", str(path), "--workers", "2")
    victim = running_worker(sweep_dir / "runs", first)
    os.kill(victim, signal.SIGKILL)  # one worker dies mid-trial...
    time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)  # ...then the whole sweep (a lost node, a pre-empted job)
    first.wait(timeout=30)
    second = plait("sweep", str(path), "--workers", "2", "--resume")
    output, _ = second.communicate(timeout=400)
    cfg = load_sweep(path)
    return folder, sweep_dir, victim, second.returncode, output, backend.load_study(cfg, str(path))


def test_killed_sweep_resumes_to_exactly_the_grid_with_no_trial_run_twice(killed_and_resumed):
    folder, sweep_dir, victim, code, output, study = killed_and_resumed
    assert code == 0, output
    counted = ledger.counted(study.get_trials())
    assert len(counted) == 4 and all(t.state == optuna.trial.TrialState.COMPLETE for t in counted)
    params = sorted(tuple(sorted(t.params.items())) for t in counted)
    expected = sorted((("train.lr", lr), ("train.schedule.warmup_steps", w)) for lr in GRID["train.lr"]
                      for w in GRID["train.schedule.warmup_steps"])
    assert params == expected  # the whole grid, each point once
    dead = [t for t in study.get_trials() if t.user_attrs.get(ledger.OUTCOME) == ledger.DIED]
    assert any(t.user_attrs[ledger.WORKER]["pid"] == victim for t in dead)
    assert "left running by a dead worker" in output
    for trial in dead:  # each dead attempt was retried exactly once; the last attempt of each chain completed
        (retry,) = [t for t in study.get_trials() if t.user_attrs.get(ledger.RETRY_OF) == trial.number]
        assert retry.params == trial.params
        assert retry.number in {t.number for t in counted} or retry.user_attrs.get(ledger.OUTCOME) == ledger.DIED
    statuses = [atomic.read_json(p) for p in sorted((sweep_dir / "runs").glob("*/*/status.json"))]
    finished = [s for s in statuses if s["state"] == "finished"]
    assert sorted(s["tags"]["trial"] for s in finished) == sorted(str(t.number) for t in counted)
    unfinished = [s for s in statuses if s["state"] != "finished"]
    assert unfinished and all(s["state"] == "failed" and "worker running it died" in s["error"] for s in unfinished)
    for trial in counted:  # the objective is the run directory's validation exact match
        (run,) = [Path(p) for p in trial.user_attrs[ledger.RUNS]]
        assert trial.value == json.loads((run / "eval" / "validation.json").read_text())["metrics"]["exact_match"]


def test_resuming_a_finished_sweep_runs_nothing_and_a_rerun_without_resume_is_refused(killed_and_resumed):
    folder, sweep_dir, *_ = killed_and_resumed
    before = sorted(p.name for p in (sweep_dir / "runs" / "tiny").iterdir())
    assert main(["sweep", str(folder / "grid.yaml"), "--resume"]) == 0
    assert main(["sweep", str(folder / "grid.yaml")]) == 2
    assert sorted(p.name for p in (sweep_dir / "runs" / "tiny").iterdir()) == before


def test_summarize_the_sweep(killed_and_resumed):
    folder, sweep_dir, *_ = killed_and_resumed
    assert main(["summarize", str(sweep_dir)]) == 0
    table = pd.read_csv(sweep_dir / "summary" / "summary.csv")
    assert sorted(c for c in table.columns if c.startswith("train.")) == sorted(GRID)
    assert len(table) == 4 and table["best"].fillna("").tolist().count("*") == 1
    for _, row in table.iterrows():
        runs = [p.parent for p in (sweep_dir / "runs").glob("*/*/status.json")
                if atomic.read_json(p)["state"] == "finished"
                and yaml.safe_load((p.parent / "config.yaml").read_text())["train"]["lr"] == row["train.lr"]
                and yaml.safe_load((p.parent / "config.yaml").read_text())["train"]["schedule"]["warmup_steps"]
                == row["train.schedule.warmup_steps"]]
        (run,) = runs
        score = json.loads((run / "eval" / "validation.json").read_text())["metrics"]["exact_match"]
        assert row["validation exact_match mean"] == pytest.approx(score) and row["finished"] == 1
    killed = [p for p in (sweep_dir / "runs").glob("*/*/status.json") if (p.parent / "config.yaml").exists()
              and atomic.read_json(p)["state"] != "finished"]
    flagged = table[table["runs"] > table["finished"]]  # killed attempts are listed and flagged, not averaged
    assert (table["runs"] - table["finished"]).sum() == len(killed) >= 1
    assert flagged["flag"].str.fullmatch(r"\d+ failed: left out of the statistics").all()
    for name in ("loss_curves", "lr_schedule", "metric_bars", "metric_vs_params"):
        assert (sweep_dir / "summary" / f"{name}.png").stat().st_size > 10_000


def test_pruned_trial_stops_early_and_is_recorded_as_pruned(tmp_path):
    # lr 1e-7 cannot lower the loss; with the good trial finished first, the median pruner stops it at step 4
    path = write_sweep(tmp_path, space={"train.lr": [1e-2, 1e-7]}, sampler={"kind": "grid", "seed": 1},
                       metric="loss", pruner={"kind": "median", "n_startup_trials": 1})
    assert main(["sweep", str(path), "--set", "train.max_steps=12", "--set", "train.eval_every=4"]) == 0
    study = backend.load_study(load_sweep(path), str(path))
    states = {t.params["train.lr"]: t.state for t in study.get_trials()}
    assert states == {1e-2: optuna.trial.TrialState.COMPLETE, 1e-7: optuna.trial.TrialState.PRUNED}
    runs = {yaml.safe_load((p.parent / "config.yaml").read_text())["train"]["lr"]: p.parent
            for p in (tmp_path / "sweeps" / "grid" / "runs").glob("*/*/status.json")}
    pruned, finished = atomic.read_json(runs[1e-7] / "status.json"), atomic.read_json(runs[1e-2] / "status.json")
    assert pruned["state"] == "pruned" and pruned["step"] == pruned["pruned_step"] == 4
    assert finished["state"] == "finished" and finished["step"] == 12
    assert not (runs[1e-7] / "model").exists() and (runs[1e-2] / "model").exists()
