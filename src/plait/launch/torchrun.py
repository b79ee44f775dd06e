"""`plait run EXP --nproc N`: the same command again, under torchrun, one process per rank.

transformers' Trainer and accelerate do the data parallelism (DDP; gloo on CPU). The launcher only
creates the run directory first, so that every rank knows it and rank 0 alone writes to it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from plait.runs.ranks import RUN_DIR_ENV
from plait.runs.rundir import RunDir, create_run_dir, now, runner_alive

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)
"""Signals passed on to torchrun, which passes them on to every rank (see launch)."""


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
        return create_run_dir(output_dir, experiment, dry_run, hold=False)  # rank 0 takes the lock
    run = RunDir(Path(output_dir) / experiment / str(topology.rdzv_id))
    run.path.mkdir(parents=True, exist_ok=True)
    if topology.node_rank == 0:
        run.update_status(state="running", dry_run=dry_run, experiment=experiment, run_id=run.name, started=now(),
                          step=0, epoch=0.0)
    return run


def launch(run: RunDir, topology: Topology, plait_args: list[str], settle_s: float = 120.0) -> int:
    """Run `plait <plait_args>` under torchrun into `run`; return torchrun's exit code.

    torchrun runs in its own session and this process passes it SIGINT, SIGTERM and SIGUSR2 (which torchrun
    hands on to every rank), so each rank gets a pre-emption signal once even when the whole process group
    was signalled. Afterwards, ranks that outlived torchrun (it stops waiting for them after a second
    signal) get up to `settle_s` seconds to finish their checkpoint and record how the run ended.
    """
    run.update_status(launcher={"kind": "torchrun", "nproc_per_node": topology.nproc, "nnodes": topology.nnodes,
                                "world_size": topology.nproc * topology.nnodes}, pid=os.getpid())
    env = {**os.environ, RUN_DIR_ENV: str(run.path.resolve()),
           "TORCHELASTIC_SIGNALS_TO_HANDLE": ",".join(s.name for s in FORWARDED)}
    command = torchrun_command(topology, run.path / "logs" / f"node-{topology.node_rank}", plait_args)
    agent = subprocess.Popen(command, env=env, start_new_session=True)
    previous = {sig: signal.signal(sig, lambda signum, _: agent.send_signal(signum)) for sig in FORWARDED}
    try:
        code = agent.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline and runner_alive(run.status()):  # rank 0's pid, once it started training
        time.sleep(0.5)
    return code

