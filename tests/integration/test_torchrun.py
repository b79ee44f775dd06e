"""`plait run EXP --nproc 2`: two gloo processes under torchrun, one run directory written by rank 0,
and the loss curve of a single process with the same global batch."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch

from plait.cli import main
from plait.runs import atomic
from plait.runs.rundir import find_runs
from tests.tiny import DATA_PARALLEL, assert_same_curve, train_curve, write_experiment


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torchrun")
    ddp = write_experiment(folder, "ddp", **DATA_PARALLEL, **{"train.batch_size": 4})
    single = write_experiment(folder, "single", **DATA_PARALLEL, **{"train.batch_size": 8})
    proc = subprocess.Popen([sys.executable, "-m", "plait", "run", str(ddp), "--nproc", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert main(["run", str(single), "--no-progress"]) == 0  # meanwhile, in this process
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, log[-3000:]
    (ddp_run,) = find_runs([folder / "runs" / "ddp"])
    (single_run,) = find_runs([folder / "runs" / "single"])
    return ddp_run, single_run, log


def test_two_ranks_one_run_directory_written_by_rank_0(runs):
    ddp, _, log = runs
    assert "rank 0/2" in log and "rank 1/2" in log
    assert [p.name for p in ddp.path.parent.iterdir()] == [ddp.name]
    status = ddp.status()
    assert status.state == "finished" and status.step == 4
    assert status.launcher.model_dump(exclude_none=True) == {"kind": "torchrun", "nproc_per_node": 2, "nnodes": 1, "world_size": 2}
    assert (ddp.model / "model.safetensors").exists() and ddp.eval_result("test") is not None
    assert len([r for r in atomic.read_jsonl(ddp.metrics) if r.get("event") == "built"]) == 1  # rank 0 alone logs
    rank_logs = sorted(p.parent.name for p in (ddp.path / "logs").rglob("stderr.log"))
    assert rank_logs == ["0", "1"]


def test_loss_curve_matches_single_process_with_same_global_batch(runs):
    ddp, single, _ = runs
    assert_same_curve(ddp, single)
    assert [s for s, _, _ in train_curve(ddp)] == [1, 2, 3, 4]


def test_multi_node_needs_a_rendezvous(tmp_path, capsys):
    spec = write_experiment(tmp_path, "nodes")
    assert main(["run", str(spec), "--nnodes", "2"]) == 2
    assert "--rdzv-endpoint" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_preempted_two_process_run_exits_75_and_resumes_to_the_uninterrupted_weights(tmp_path):
    from safetensors.torch import load_file

    long = {**DATA_PARALLEL, "train.max_steps": 200, "train.save_every": 50, "train.log_every": 10, "train.batch_size": 4}
    (tmp_path / "cut").mkdir(), (tmp_path / "whole").mkdir()
    exp = write_experiment(tmp_path / "cut", "long", **long)
    reference = write_experiment(tmp_path / "whole", "long", **long)
    proc = subprocess.Popen([sys.executable, "-m", "plait", "run", str(exp), "--nproc", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(2400):
        runs = find_runs([tmp_path / "cut" / "runs"])
        if runs and runs[0].status().step >= 20 or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # to `plait run` alone: it passes the signal on to torchrun and the ranks
    log, _ = proc.communicate(timeout=300)
    (cut,) = find_runs([tmp_path / "cut" / "runs"])
    status = cut.status()
    assert proc.returncode == 75, log[-3000:]
    assert status.state == "preempted" and 20 <= status.step < 200
    assert f"step-{status.step}" == cut.complete_checkpoints()[-1].name

    assert main(["run", str(exp), "--nproc", "2", "--resume", "--no-progress"]) == 0
    assert main(["run", str(reference), "--nproc", "2", "--no-progress"]) == 0
    (whole,) = find_runs([tmp_path / "whole" / "runs"])
    assert cut.status().state == "finished" and cut.status().resumes[0].from_step == status.step
    assert train_curve(cut) == train_curve(whole)
    ours, theirs = load_file(cut.model / "model.safetensors"), load_file(whole.model / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
