"""Pre-emption: SIGTERM or SIGUSR2 leaves a complete checkpoint, status `preempted`, exit code 75,
and `plait run --resume` finishes the run exactly as an uninterrupted one would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import transformers

from plait.cli import main
from plait.runs.rundir import COMPLETE_MARKER, RunDir, find_runs
from plait.train.preempt import PREEMPTED_EXIT
from tests.integration.test_resume import SETTINGS, final_weights, train_losses
from tests.tiny import write_experiment

STEPS = 24


def experiment(folder):
    # no checkpoints but the one pre-emption asks for
    return write_experiment(folder, "preempt", **{**SETTINGS, "train.epochs": 4, "train.save_every": -1})


def assert_preempted(run: RunDir) -> int:
    status = run.status()
    assert status.state == "preempted"
    step = status.step
    assert 0 < step < STEPS
    assert run.complete_checkpoints()[-1].name == f"step-{step}"
    assert (run.checkpoints / f"step-{step}" / COMPLETE_MARKER).exists()
    assert not run.model.exists()  # a pre-empted run neither saves a final model nor evaluates
    return step


@pytest.fixture(scope="module")
def sigterm_run(tmp_path_factory):
    """A `plait run` process sent SIGTERM once it has logged two steps."""
    folder = tmp_path_factory.mktemp("sigterm")
    exp = experiment(folder)
    proc = subprocess.Popen([sys.executable, "-m", "plait", "run", str(exp), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    runs: list[RunDir] = []
    while time.monotonic() < deadline and proc.poll() is None:
        runs = find_runs([folder / "runs"])
        if runs and runs[0].status().step >= 2:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    out, err = proc.communicate(timeout=240)
    return exp, runs[0], proc.returncode, out, err


def test_sigterm_checkpoints_marks_preempted_and_exits_75(sigterm_run):
    exp, run, code, out, err = sigterm_run
    assert code == PREEMPTED_EXIT, err[-2000:]
    step = assert_preempted(run)
    assert f"preempted at step {step}" in out and "--resume" in out
    assert main(["run", str(exp), "--resume", str(run.path), "--no-progress"]) == 0
    status = run.status()
    assert status.state == "finished" and status.step == STEPS
    assert [r.from_step for r in status.resumes] == [step]
    assert [s for s, _, _ in train_losses(run)] == list(range(1, STEPS + 1))


def test_sigusr2_in_process_then_resume_of_latest_matches(sigterm_run, tmp_path, monkeypatch):
    """SIGUSR2 (what submitit sends) at micro-batch 5; bare --resume picks the run; both resumed runs agree."""
    exp = experiment(tmp_path)
    original = transformers.Trainer.training_step
    calls = []

    def signalling(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGUSR2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(transformers.Trainer, "training_step", signalling)
    assert main(["run", str(exp), "--no-progress"]) == PREEMPTED_EXIT
    monkeypatch.setattr(transformers.Trainer, "training_step", original)
    (run,) = find_runs([tmp_path / "runs"])
    assert assert_preempted(run) == 3  # micro-batch 5 is in step 3; the checkpoint is taken when it ends
    assert signal.getsignal(signal.SIGUSR2) is signal.SIG_DFL  # handlers are put back after training

    assert main(["run", str(exp), "--resume", "--no-progress"]) == 0
    assert run.status().state == "finished"
    other_exp, other = sigterm_run[:2]
    if other.status().state != "finished":  # this test ran on its own
        assert main(["run", str(other_exp), "--resume", str(other.path), "--no-progress"]) == 0
    ours, theirs = final_weights(run), final_weights(other)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert train_losses(run) == train_losses(other)
