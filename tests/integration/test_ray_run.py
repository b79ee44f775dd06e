"""`plait run EXP --launcher ray --nproc 2`: one run as a Ray Train job on a Ray head started here on 127.0.0.1.

Rank 1 fails once while loading the experiment; Ray retries the job and the ranks continue the same run
directory. The run ends as one run directory written by rank 0, with the loss curve of a single process
with the same global batch.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from plait.cli import main
from plait.runs import atomic
from plait.runs.rundir import find_runs
from tests.tiny import DATA_PARALLEL, assert_same_curve, tiny, train_curve, write_experiment

pytest.importorskip("ray.train")

# the experiment as a function that fails the first time rank 1 of a Ray Train job builds it
FLAKY = """
import os
EXP = {exp!r}

def build():
    if os.environ.get("RANK") == "1":  # set by Ray Train in its workers, not in the driver
        try:
            os.rename({marker!r}, {marker!r} + ".used")
        except FileNotFoundError:
            return EXP
        raise RuntimeError("injected failure")
    return EXP
"""



@pytest.fixture(scope="module")
def runs(ray_head, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray-run")
    marker = folder / "fail-once"
    marker.touch()
    exp = {**tiny(**DATA_PARALLEL, **{"train.batch_size": 4}), "name": "ddp", "output_dir": str(folder / "runs")}
    (folder / "ddp.py").write_text(FLAKY.format(exp=exp, marker=str(marker)))
    single = write_experiment(folder, "single", **DATA_PARALLEL, **{"train.batch_size": 8})
    proc = subprocess.Popen([sys.executable, "-m", "plait", "run", f"{folder / 'ddp.py'}:build", "--launcher", "ray",
                             "--address", ray_head, "--nproc", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert main(["run", str(single), "--no-progress"]) == 0  # meanwhile, in this process
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, log[-3000:]
    assert (folder / "fail-once.used").exists()  # the failure did happen
    (ddp_run,) = find_runs([folder / "runs" / "ddp"])
    (single_run,) = find_runs([folder / "runs" / "single"])
    return ddp_run, single_run, log


def test_one_run_directory_written_by_rank_0_after_a_retry(runs, ray_head):
    ddp, _, log = runs
    assert "plait: rank 0/2" in log and "plait: rank 1/2" in log
    assert "injected failure" in log
    assert f"ddp: finished | 2 Ray Train workers | {ddp.path}" in log.splitlines()
    assert [p.name for p in ddp.path.parent.iterdir()] == [ddp.name]
    status = ddp.status()
    assert status.state == "finished" and status.step == 4
    assert status.launcher.model_dump(exclude_none=True) == {"kind": "ray", "address": ray_head, "num_workers": 2, "world_size": 2}
    assert (ddp.model / "model.safetensors").exists() and ddp.eval_result("test") is not None
    events = [r["event"] for r in atomic.read_jsonl(ddp.metrics) if r.get("split") == "event"]
    assert events.count("built") == 1  # rank 0 alone logs, and the retry left no trace of the failed attempt


def test_loss_curve_matches_single_process_with_same_global_batch(runs):
    ddp, single, _ = runs
    assert_same_curve(ddp, single)
    assert [s for s, _, _ in train_curve(ddp)] == [1, 2, 3, 4]

