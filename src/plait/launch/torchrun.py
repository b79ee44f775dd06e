"""`plait run EXP --nproc N`: the same command again, under torchrun, one process per rank.

transformers' Trainer and accelerate do the data parallelism (DDP; gloo on CPU). The launcher only
creates the run directory first, so that every rank knows it and rank 0 alone writes to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from plait.launch.ranks import RUN_DIR_ENV
from plait.runs.rundir import RunDir, create_run_dir, now


@dataclass(frozen=True)
class Topology:
    """Where a run's processes are: per node, how many nodes, which node this is, how they meet."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    """host:port of the rendezvous (multi-node; node 0's address)."""
    rdzv_id: str | None = None
    """Shared id of one multi-node run; it also names the run directory all nodes write to."""


def torchrun_command(topology: Topology, log_dir: Path, plait_args: list[str]) -> list[str]:
    """`python -m torch.distributed.run ... -m plait <plait_args>`, each rank's output tee'd under log_dir."""
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={topology.nproc}",
               f"--nnodes={topology.nnodes}", f"--log-dir={log_dir}", "--tee=3"]
    if topology.nnodes == 1:
        command.append("--standalone")
    else:
        command += [f"--node-rank={topology.node_rank}", "--rdzv-backend=c10d",
                    f"--rdzv-endpoint={topology.rdzv_endpoint}", f"--rdzv-id={topology.rdzv_id}"]
    return [*command, "-m", "plait", *plait_args]


def shared_run_dir(output_dir: str, experiment: str, topology: Topology, dry_run: bool) -> RunDir:
    """The run directory for all ranks: a fresh one on one node; `<rdzv_id>` on a shared disk across nodes."""
    if topology.nnodes == 1:
        return create_run_dir(output_dir, experiment, dry_run)
    run = RunDir(Path(output_dir) / experiment / str(topology.rdzv_id))
    run.path.mkdir(parents=True, exist_ok=True)
    if topology.node_rank == 0:
        run.update_status(state="running", dry_run=dry_run, experiment=experiment, run_id=run.name, started=now(),
                          step=0, epoch=0.0)
    return run


def launch(run: RunDir, topology: Topology, plait_args: list[str]) -> int:
    """Run `plait <plait_args>` under torchrun into `run`; return torchrun's exit code."""
    run.update_status(launcher={"kind": "torchrun", "nproc_per_node": topology.nproc, "nnodes": topology.nnodes,
                                "world_size": topology.nproc * topology.nnodes}, pid=os.getpid())
    env = {**os.environ, RUN_DIR_ENV: str(run.path.resolve())}
    command = torchrun_command(topology, run.path / "logs" / f"node-{topology.node_rank}", plait_args)
    return subprocess.run(command, env=env, check=False).returncode
