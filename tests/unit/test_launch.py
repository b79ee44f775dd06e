"""Launch settings: the experiment's strict `launch:` section, flags over it, and the torchrun command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from plait.config import load_experiment
from plait.errors import ConfigError, UserError
from plait.config.launch import LaunchConfig, SlurmConfig
from plait.launch.flags import add_launch_arguments, child_arguments, launch_config
from plait.runs.ranks import FollowerRunDir, launched_run_dir
from plait.launch.torchrun import Topology, torchrun_command
from tests.tiny import write_experiment


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    add_launch_arguments(parser)
    return parser.parse_args(list(argv))


def test_launch_section_is_strict_and_read_from_the_experiment(tmp_path):
    spec = write_experiment(tmp_path, launch={"nproc": 2, "slurm": {"partition": "gpu", "time_min": 30}})
    exp = load_experiment(spec)
    assert exp.launch.nproc == 2 and exp.launch.slurm.partition == "gpu" and exp.launch.slurm.time_min == 30
    with pytest.raises(ConfigError, match="launch.slurm.partiton"):
        load_experiment(write_experiment(tmp_path, "typo", launch={"slurm": {"partiton": "gpu"}}))
    with pytest.raises(ConfigError, match="launch.launcher"):
        load_experiment(write_experiment(tmp_path, "bad", launch={"launcher": "kubernetes"}))


def test_flags_override_the_section_and_keep_the_rest():
    base = LaunchConfig(nproc=4, slurm=SlurmConfig(partition="gpu", account="lab", sbatch={"qos": "high"}))
    merged = launch_config(flags("--launcher", "slurm", "--partition", "debug", "--gpus-per-node", "2",
                                 "--sbatch", "constraint=a100", "--time-min", "90"), base)
    assert merged.launcher == "slurm" and merged.nproc == 4
    assert merged.slurm.partition == "debug" and merged.slurm.account == "lab" and merged.slurm.gpus_per_node == 2
    assert merged.slurm.time_min == 90 and merged.slurm.sbatch == {"qos": "high", "constraint": "a100"}
    assert launch_config(flags(), base) == base


@pytest.mark.parametrize("argv, message", [
    (["--nproc", "0"], "--nproc: got 0: Input should be greater than or equal to 1"),
    (["--sbatch", "qos"], "--sbatch qos: expected KEY=VALUE"),
    (["--nnodes", "2"], "--rdzv-endpoint HOST:PORT and --rdzv-id"),
    (["--nnodes", "2", "--rdzv-endpoint", "h:1", "--rdzv-id", "x", "--node-rank", "2"], "--node-rank: must be in 0..1"),
])
def test_bad_flags_name_the_flag(argv, message):
    with pytest.raises(UserError, match=message.replace("..", r"\.\.")):
        launch_config(flags(*argv), LaunchConfig())


def test_torchrun_command_single_and_multi_node(tmp_path):
    child = child_arguments(flags("--set", "train.lr=0.1", "--no-progress", "--nproc", "2"), "exp.yaml")
    assert child == ["run", "exp.yaml", "--set=train.lr=0.1", "--no-progress"]  # no launch flags: no relaunch
    one = torchrun_command(Topology(nproc=2), tmp_path, child)
    assert one[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in one and "--standalone" in one and one[-6:] == ["-m", "plait", *child]
    many = torchrun_command(Topology(4, 2, 1, "node0:29500", "job7"), tmp_path, child)
    assert {"--nnodes=2", "--node-rank=1", "--rdzv-endpoint=node0:29500", "--rdzv-id=job7"} <= set(many)
    assert "--standalone" not in many


def test_only_rank_0_writes_the_launched_run_directory(tmp_path, monkeypatch):
    assert launched_run_dir() is None
    monkeypatch.setenv("PLAIT_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("RANK", "1")
    follower = launched_run_dir()
    assert isinstance(follower, FollowerRunDir) and follower.path == Path(tmp_path)
    follower.update_status(state="running")
    follower.log({"step": 1})
    assert not follower.status_file.exists() and not follower.metrics.exists()
    monkeypatch.setenv("RANK", "0")
    leader = launched_run_dir()
    leader.update_status(state="running")
    assert type(leader) is not FollowerRunDir and leader.status().state == "running"


def test_slurm_resources_become_sbatch_lines(tmp_path, monkeypatch):
    from plait.launch import slurm

    monkeypatch.setenv(slurm.CLUSTER_ENV, "slurm")
    monkeypatch.setattr(slurm.shutil, "which", lambda name: f"/usr/bin/{name}")  # as on a login node
    resources = SlurmConfig(partition="gpu", account="lab", gpus_per_node=2, time_min=30, array_parallelism=3,
                            sbatch={"constraint": "a100", "mail-type": "END"})
    executor = slurm.make_executor(tmp_path, "exp", resources)._executor
    script = executor._make_submission_file_text("python -m x", "uid")  # what sbatch would receive
    for line in ("--partition=gpu", "--account=lab", "--gpus-per-node=2", "--ntasks-per-node=2", "--time=30",
                 "--signal=USR2@120", "--constraint=a100", "--mail-type=END", "--job-name=exp"):
        assert f"#SBATCH {line}\n" in script
    assert executor.parameters["array_parallelism"] == 3


def test_ls_job_column_names_the_slurm_job_or_the_launcher():
    from plait.commands.ls import job_cell
    from plait.runs.status import RunStatus

    def cell(record: dict) -> str:
        return job_cell(RunStatus.model_validate(record))

    assert cell({"job": {"id": "4242", "state": "RUNNING"}, "launcher": {"kind": "slurm"}}) == "4242 RUNNING"
    assert cell({"launcher": {"kind": "torchrun", "nproc_per_node": 2, "nnodes": 1, "world_size": 2}}) \
        == "torchrun x2"
    assert cell({"launcher": {"kind": "ray", "address": "127.0.0.1:6379", "num_workers": 4, "world_size": 4}}) \
        == "ray x4"
    assert cell({"state": "finished"}) == "-"
