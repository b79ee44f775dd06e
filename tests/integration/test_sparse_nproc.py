"""train.sparsity (RigL) and train.distill under `plait run --nproc 2`: the two ranks' masks are rank 0's
(broadcast after every update), so the run follows the single process with the same global batch: same loss
curve, same masks, same weights. A rank with other masks would train other weights, and DDP's averaged
gradients, hence rank 0's curve, would part from the single process's.

One update, at step 2: with an update every step, the weights regrown at step 1 all have |w| = lr after one
Adam step, near-ties that the float rounding of a 2-rank gradient sum breaks differently from one process."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from plait.cli import main
from plait.runs import atomic
from plait.runs.rundir import find_runs
from plait.train.sparsity.masks import MASK_FILE
from tests.tiny import DATA_PARALLEL, assert_same_curve, write_experiment

RIGL = {"target": 0.7, "method": "rigl", "update_every": 2, "stop_at": 1.0, "drop_fraction": 0.3}  # an update at step 2


@pytest.mark.slow
def test_rigl_and_distillation_with_two_ranks_follow_one_process(tmp_path):
    teacher = write_experiment(tmp_path, "teacher", **{"train.max_steps": 3})
    assert main(["run", str(teacher), "--no-progress"]) == 0
    (teacher_run,) = find_runs([tmp_path / "runs" / "teacher"])
    settings = {**DATA_PARALLEL, "train.save_every": 2, "train.sparsity": RIGL,
                "train.distill": {"teacher": str(teacher_run.path), "temperature": 2.0, "kd_factor": 0.5}}
    ddp = write_experiment(tmp_path, "ddp", **settings, **{"train.batch_size": 4})
    single = write_experiment(tmp_path, "single", **settings, **{"train.batch_size": 8})
    proc = subprocess.Popen([sys.executable, "-m", "plait", "run", str(ddp), "--nproc", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert main(["run", str(single), "--no-progress"]) == 0
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, log[-3000:]
    (ddp_run,) = find_runs([tmp_path / "runs" / "ddp"])
    (single_run,) = find_runs([tmp_path / "runs" / "single"])
    assert_same_curve(ddp_run, single_run)
    updates = [r for r in atomic.read_jsonl(ddp_run.metrics) if r.get("update") == "rigl"]
    assert [r["step"] for r in updates] == [2] and updates[0]["regrown"] > 0
    for step in (2, 4):
        ours = load_file(ddp_run.checkpoints / f"step-{step}" / MASK_FILE)
        theirs = load_file(single_run.checkpoints / f"step-{step}" / MASK_FILE)
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours), step
    assert ddp_run.status().sparsity["covered"] == pytest.approx(single_run.status().sparsity["covered"])
