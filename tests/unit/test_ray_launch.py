"""`plait run --launcher ray`: errors that need no cluster (a bad address, a failed job's one line)."""

from __future__ import annotations

import json

import pytest

from plait.cli import main
from plait.launch.ray_run import failure_line
from tests.tiny import write_experiment

pytest.importorskip("ray.train")


@pytest.mark.parametrize(("address", "says"), [
    ("127.0.0.1:1", "--address 127.0.0.1:1: no Ray cluster answers there"),
    ("nowhere", "--address nowhere: expected HOST:PORT"),
])
def test_a_bad_address_is_one_line_and_exit_2(tmp_path, capsys, address, says):
    spec = write_experiment(tmp_path, "tiny")
    assert main(["run", str(spec), "--launcher", "ray", "--address", address, "--nproc", "2"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"plait: error: {says}")
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_a_failed_job_is_one_line_naming_each_failed_rank():
    from ray.exceptions import ActorDiedError
    from ray.train import ControllerError, WorkerGroupError
    from ray.train.v2._internal.exceptions import UserExceptionWithTraceback

    trace = 'Traceback (most recent call last):\n  File "exp.py", line 9, in build\nRuntimeError: boom\n'
    err = WorkerGroupError("snippet", {1: UserExceptionWithTraceback(RuntimeError("boom"), trace),
                                       0: ActorDiedError()})
    assert failure_line(err) == "rank 0: ActorDiedError: The actor died unexpectedly before finishing this task.; " \
                                "rank 1: RuntimeError: boom"
    assert failure_line(ControllerError(RuntimeError("no resources"))) == "RuntimeError: no resources"


def test_a_failed_job_marks_the_run_failed_and_exits_1(tmp_path, monkeypatch, capsys):
    """The driver's side of a job Ray gave up on (the trainer stands in for a cluster)."""
    import ray.train.torch
    from ray.train import WorkerGroupError

    from plait.launch import ray as launch_ray

    seen = {}

    class GivesUp:
        def __init__(self, fn, train_loop_config, scaling_config, run_config):
            seen.update(config=train_loop_config, scaling=scaling_config, run=run_config)

        def fit(self):
            raise WorkerGroupError("snippet", {1: RuntimeError("boom")})

    monkeypatch.setattr(launch_ray, "connect", lambda address, log_to_driver: "10.0.0.5:6379")
    monkeypatch.setattr(ray.train.torch, "TorchTrainer", GivesUp)
    spec = write_experiment(tmp_path, "tiny")
    code = main(["run", str(spec), "--launcher", "ray", "--address", "10.0.0.5:6379", "--nproc", "2",
                 "--set", "launch.ray.max_retries=3", "--no-progress"])

    (run,) = (tmp_path / "runs" / "tiny").iterdir()
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 1 and out == [f"tiny: failed | rank 1: RuntimeError: boom | {run}"]
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and status["error"] == "rank 1: RuntimeError: boom"
    assert status["launcher"] == {"kind": "ray", "address": "10.0.0.5:6379", "num_workers": 2, "world_size": 2}
    assert seen["scaling"].num_workers == 2 and seen["scaling"].use_gpu is False
    assert seen["run"].failure_config.max_failures == 3 and seen["config"]["run"] == str(run.resolve())
    assert seen["config"]["child"] == ["run", str(spec), "--set=launch.ray.max_retries=3", "--no-progress"]
