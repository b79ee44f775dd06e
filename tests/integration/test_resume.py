"""Exact resume: a run SIGKILLed anywhere and resumed ends bit-identical to an uninterrupted one.

The tiny experiment has dropout on, 2 micro-batches per optimizer step, 6 steps per epoch and 2
epochs, with a checkpoint after every step. A driver process SIGKILLs itself at a chosen point:
inside gradient accumulation (after the first micro-batch of a step), or halfway through writing a
checkpoint. The points are drawn at random; the assertion messages name them.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers
from safetensors.torch import load_file

from plait.cli import main
from plait.errors import UserError
from plait.runs import atomic
from plait.runs.rundir import COMPLETE_MARKER, RunDir, find_runs
from plait.train.callbacks import CheckpointFinisher
from plait.train.resume import STATE_FILE, apply_plan, config_changes, find_run, plan_resume
from tests.tiny import write_experiment

STEPS_PER_EPOCH, EPOCHS, ACCUM = 6, 2, 2
SETTINGS = {
    "train.max_steps": -1, "train.epochs": EPOCHS, "train.batch_size": 4, "train.grad_accum": ACCUM,
    "train.save_every": 1, "train.log_every": 1, "train.keep_checkpoints": 2,
    "model.language.config.attention_dropout": 0.2,
}

DRIVER = """
import os, signal, sys
import transformers
from plait.cli import main

def kill_at(name, count):
    original = getattr(transformers.Trainer, name)
    calls = [0]
    def wrapped(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == count:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args, **kwargs)
    setattr(transformers.Trainer, name, wrapped)

kill_at(os.environ["KILL_IN"], int(os.environ["KILL_AT"]))
sys.exit(main(sys.argv[1:]))
"""


def experiment(folder: Path, workers: int, log_every: int = 1) -> Path:
    return write_experiment(folder, "resume", **{**SETTINGS, "train.num_workers": workers,
                                                 "train.log_every": log_every})


def run_cli(*args: str) -> RunDir:
    before = {r.path for r in find_runs([Path(args[0]).parent / "runs"])}
    assert main(["run", *args, "--no-progress"]) == 0
    after = [r for r in find_runs([Path(args[0]).parent / "runs"]) if r.path not in before]
    return after[0] if after else RunDir(Path(args[args.index("--resume") + 1]))


def killed_run(exp: Path, kill_in: str, kill_at: int) -> RunDir:
    """Run `exp` in a driver process that SIGKILLs itself on call number `kill_at` of Trainer.`kill_in`."""
    driver = exp.parent / "driver.py"
    driver.write_text(DRIVER)
    before = {r.path for r in find_runs([exp.parent / "runs"])}
    env = {**os.environ, "KILL_IN": kill_in, "KILL_AT": str(kill_at)}
    proc = subprocess.run([sys.executable, str(driver), "run", str(exp), "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    (run,) = [r for r in find_runs([exp.parent / "runs"]) if r.path not in before]
    assert run.status().state == "running"  # a SIGKILLed process records nothing
    return run


def train_losses(run: RunDir) -> list[tuple[int, float, float]]:
    return [(r["step"], r["loss"], r["grad_norm"]) for r in atomic.read_jsonl(run.metrics) if r["split"] == "train"]


def final_weights(run: RunDir) -> dict[str, torch.Tensor]:
    """Every tensor of every weight file of the saved model, keyed by file and name."""
    return {f"{path.relative_to(run.model)}:{name}": tensor
            for path in sorted(run.model.rglob("*.safetensors")) for name, tensor in load_file(path).items()}


def assert_identical(run: RunDir, reference: RunDir, where: str) -> None:
    ours, theirs = final_weights(run), final_weights(reference)
    assert ours.keys() == theirs.keys() and any(k.startswith("projector") for k in ours)
    differing = [k for k in ours if not torch.equal(ours[k], theirs[k])]
    assert not differing, f"{where}: final weights differ in {differing}"
    assert train_losses(run) == train_losses(reference), f"{where}: per-step losses differ"
    assert run.eval_result("test")["metrics"] == reference.eval_result("test")["metrics"]
    assert run.status().state == "finished" and run.status().step == STEPS_PER_EPOCH * EPOCHS


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("resume")


@pytest.fixture(scope="module")
def reference(folder):
    """The uninterrupted run, with no data workers."""
    (folder / "w0").mkdir()
    exp = experiment(folder / "w0", workers=0)
    return exp, run_cli(str(exp))


@pytest.fixture(scope="module")
def killed(reference):
    """A run SIGKILLed inside gradient accumulation, mid-epoch, and a copy of it for the negative control."""
    exp, _ = reference
    # the second micro-batch of step s: the first one's gradients are accumulated, the step not taken;
    # s - 1 (the checkpoint) is mid-epoch, so resuming skips batches and then crosses into epoch 2
    step = random.choice([s for s in range(2, STEPS_PER_EPOCH + 1) if (s - 1) % STEPS_PER_EPOCH])
    where = f"killed at micro-batch {2 * step} (inside step {step})"
    run = killed_run(exp, "training_step", 2 * step)
    assert run.complete_checkpoints()[-1].name == f"step-{step - 1}", where
    control = RunDir(run.path.with_name(run.name + "-control"))
    shutil.copytree(run.path, control.path)
    return run, control, step, where


def test_sigkill_inside_gradient_accumulation_resumes_bit_exact(reference, killed):
    exp, uninterrupted = reference
    run, _, step, where = killed
    assert main(["run", str(exp), "--set", "train.batch_size=8", "--resume", str(run.path), "--no-progress"]) == 2
    assert run.status().state == "running"  # the refused resume changed nothing

    run_cli(str(exp), "--resume", str(run.path))
    assert_identical(run, uninterrupted, where)
    resumed = [r for r in atomic.read_jsonl(run.metrics) if r.get("event") == "resumed"]
    assert [r["step"] for r in resumed] == [step - 1]


def test_negative_control_without_rng_restore_differs(reference, killed, monkeypatch):
    """The same resume with the RNG state left unrestored must differ: the test above can fail."""
    exp, uninterrupted = reference
    control = killed[1]
    monkeypatch.setattr(transformers.Trainer, "_load_rng_state", lambda self, checkpoint: None)
    run_cli(str(exp), "--resume", str(control.path))
    ours, theirs = final_weights(control), final_weights(uninterrupted)
    assert ours.keys() == theirs.keys()
    assert any(not torch.equal(ours[k], theirs[k]) for k in ours)
    assert train_losses(control) != train_losses(uninterrupted)


def test_crash_between_checkpoint_files_keeps_previous_loadable(reference):
    exp, uninterrupted = reference
    save = random.randrange(2, STEPS_PER_EPOCH * EPOCHS)
    where = f"killed while writing checkpoint {save} (model and optimizer written, RNG state not)"
    run = killed_run(exp, "_save_rng_state", save)
    partial = run.checkpoints / f"checkpoint-{save}"
    assert (partial / "model.safetensors").exists() and not (partial / COMPLETE_MARKER).exists(), where
    previous = run.complete_checkpoints()[-1]
    assert previous.name == f"step-{save - 1}", where
    assert load_file(previous / "model.safetensors")  # loadable
    assert plan_resume(run, {}, force=True).partial == [partial]

    run_cli(str(exp), "--resume", str(run.path))
    assert not partial.exists()
    assert_identical(run, uninterrupted, where)


def test_sigkill_with_two_workers_and_sparse_logging_resumes_bit_exact(folder):
    """Workers are re-created on resume; logged losses average over steps that straddle the checkpoint."""
    (folder / "w2").mkdir()
    exp = experiment(folder / "w2", workers=2, log_every=3)
    uninterrupted = run_cli(str(exp))
    step = random.choice([2, 3, 5, 6])  # checkpoint at step - 1, never on a logging step or an epoch end
    where = f"killed at micro-batch {2 * step - 1} (start of step {step}), 2 workers"
    run = killed_run(exp, "training_step", 2 * step - 1)
    assert run.complete_checkpoints()[-1].name == f"step-{step - 1}", where
    run_cli(str(exp), "--resume", str(run.path))
    assert_identical(run, uninterrupted, where)
    assert [s for s, _, _ in train_losses(run)] == [1, 3, 6, 9, 12]


def test_sigkill_with_length_grouped_batches_resumes_bit_exact(folder):
    """group_by_length draws each epoch's order from seed + epoch, not from the RNG state of the moment."""
    (folder / "grouped").mkdir()
    exp = write_experiment(folder / "grouped", "resume", **{**SETTINGS, "train.group_by_length": True})
    uninterrupted = run_cli(str(exp))
    step = STEPS_PER_EPOCH + random.choice([2, 3, 4])  # in epoch 2, whose order is drawn after the resume
    where = f"killed at micro-batch {2 * step} (inside step {step}), group_by_length"
    run = killed_run(exp, "training_step", 2 * step)
    run_cli(str(exp), "--resume", str(run.path))
    assert_identical(run, uninterrupted, where)


def test_config_changes_that_matter_are_listed_and_force_accepts_them(tmp_path):
    run = RunDir(tmp_path)
    config = {"train": {"batch_size": 4, "log_every": 1}, "data": {"source": {"train_size": 48}}}
    atomic.write_yaml(run.config, config)
    run.update_status(state="preempted", step=3)
    (run.checkpoints / "step-3").mkdir(parents=True)
    atomic.write_json(run.checkpoints / "step-3" / STATE_FILE, {"metrics_bytes": 120})
    (run.checkpoints / "step-3" / COMPLETE_MARKER).write_text("{}")
    changed = {"train": {"batch_size": 8, "log_every": 5}, "data": {"source": {"train_size": 64}}}
    matter, harmless = config_changes(config, changed)
    assert matter == ["data.source.train_size: 48 -> 64", "train.batch_size: 4 -> 8"]
    assert harmless == ["train.log_every: 1 -> 5"]
    with pytest.raises(UserError) as refused:
        plan_resume(run, changed, force=False)
    assert refused.value.lines[1:] == [f"  {line}" for line in matter]
    plan = plan_resume(run, changed, force=True)
    assert (plan.checkpoint.name, plan.step, plan.metrics_bytes, plan.forced) == ("step-3", 3, 120, matter)
    run.update_status(state="finished")
    with pytest.raises(UserError, match="already finished"):
        plan_resume(run, config, force=True)


def test_run_killed_before_its_first_checkpoint_starts_over_in_place(tmp_path):
    with pytest.raises(UserError, match="no unfinished run of 'x'"):
        find_run(tmp_path, "x", None)
    run = RunDir(tmp_path / "x" / "20260101-000000-abcd")
    atomic.write_yaml(run.config, {"seed": 0})
    run.update_status(state="running", pid=2 ** 22 + 1, host="elsewhere", started="2026-01-01T00:00:00")
    (run.checkpoints / "checkpoint-2").mkdir(parents=True)  # the Trainer was writing its first one
    run.log({"step": 1, "split": "train", "loss": 1.0})
    assert find_run(tmp_path, "x", None) == run
    plan = plan_resume(run, {"seed": 0}, force=False)
    assert (plan.checkpoint, plan.step, plan.metrics_bytes) == (None, 0, 0)
    apply_plan(plan)
    assert not (run.checkpoints / "checkpoint-2").exists() and run.metrics.read_text() == ""


def test_rotation_never_deletes_the_last_complete_checkpoint(tmp_path):
    run = RunDir(tmp_path)
    for step in (2, 4, 6, 8):
        (run.checkpoints / f"step-{step}").mkdir(parents=True)
        if step != 8:  # step-8: a crash before its marker
            (run.checkpoints / f"step-{step}" / COMPLETE_MARKER).write_text("{}")
    CheckpointFinisher(run, keep=1, protect=lambda: 2).rotate()
    assert [p.name for p in run.complete_checkpoints()] == ["step-2", "step-6"]  # protected best + newest
    assert (run.checkpoints / "step-8").exists()  # incomplete ones are not rotation's business
