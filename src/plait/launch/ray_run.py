"""`plait run EXP --launcher ray`: one run as a Ray Train job (TorchTrainer) on a Ray cluster.

Ray Train starts the workers, sets RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR and the process group (gloo on
CPU, nccl on GPU); each worker runs `plait run` in-process as one rank, so transformers' Trainer and
accelerate do the data parallelism exactly as under torchrun. The driver creates the run directory
first and hands it to every rank (rank 0 alone writes it). When Ray retries a failed attempt
(FailureConfig), the ranks resume the run directory from its last complete checkpoint.

The run directory must be on a disk every node sees (as for sweeps on Ray).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from plait.config.schema import Experiment
from plait.errors import UserError
from plait.config.launch import LaunchConfig
from plait.runs.ranks import RUN_DIR_ENV
from plait.runs.rundir import RunDir, create_run_dir, now

console = Console(stderr=True)


def train_rank(config: dict[str, Any]) -> None:
    """Ray Train worker: `plait run` in this process as one rank; on a retry, resume the run instead."""
    import torch.distributed as dist

    from plait.cli import main

    os.chdir(config["cwd"])  # the experiment's relative paths mean what they meant to the driver
    os.environ[RUN_DIR_ENV] = config["run"]
    sys.argv = config["argv"]  # env.json records the command the user typed, not Ray's worker
    run = RunDir(Path(config["run"]))
    started = run.config.exists()  # an earlier attempt (or --resume) began this run
    finished = run.status().state == "finished"  # an earlier attempt failed only after the end
    if dist.is_initialized():
        dist.barrier()  # every rank has looked before rank 0 writes config.yaml, so all take the same path
    if finished:
        return
    code = main([*config["child"], *(["--resume", config["run"]] if started else [])])
    if code != 0:
        raise RuntimeError(f"plait run exited with code {code} on rank {os.environ.get('RANK', '0')}")


def failure_line(err: BaseException) -> str:
    """One line for a failed Ray Train job: each failed rank's error (Ray gives whole tracebacks)."""
    def last(exc: BaseException) -> str:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        if not lines:
            return type(exc).__name__
        # a worker's traceback ends with its exception; other errors (a dead actor) start with what happened
        return lines[-1] if "Traceback (most recent call last)" in str(exc) else f"{type(exc).__name__}: {lines[0]}"

    failures = getattr(err, "worker_failures", None) or {}
    if failures:
        return "; ".join(f"rank {rank}: {last(exc)}" for rank, exc in sorted(failures.items()))
    return last(getattr(err, "controller_failure", err))


def worker_resources(plan: LaunchConfig) -> dict[str, float]:
    """What Ray reserves for each training process."""
    resources = {"CPU": plan.ray.cpus_per_trial}
    if plan.ray.gpus_per_trial > 0:
        resources["GPU"] = plan.ray.gpus_per_trial
    return resources


def run_on_ray(exp: Experiment, plan: LaunchConfig, child: list[str], run: RunDir | None, dry_run: bool) -> int:
    """Train `exp` as a Ray Train job into `run` (default: a new run directory); return the exit code."""
    from plait.launch.ray import connect

    try:
        import ray
        from ray.train import FailureConfig, RunConfig, ScalingConfig, TrainingFailedError
        from ray.train.torch import TorchTrainer
    except ImportError:
        raise UserError("--launcher ray needs Ray Train: pip install 'plait[cluster]' (tested with ray 2.60)") from None

    joined = not ray.is_initialized()  # a caller that already runs Ray (a notebook, a test) keeps its session
    address = connect(plan.ray.address, log_to_driver=True)  # before the run directory: a bad address leaves nothing
    workers = plan.nproc * plan.nnodes
    run = run or create_run_dir(exp.output_dir, exp.name, dry_run, hold=False)  # rank 0 takes the lock
    run.update_status(launcher={"kind": "ray", "address": address, "num_workers": workers, "world_size": workers},
                      pid=os.getpid())
    console.print(f"[bold]plait[/] {exp.name}: {workers} Ray Train workers on {address} into [cyan]{run.path}[/]")
    trainer = TorchTrainer(
        train_rank,
        train_loop_config={"cwd": os.getcwd(), "run": str(run.path.resolve()), "argv": list(sys.argv),
                           "child": child},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=plan.ray.gpus_per_trial > 0,
                                     resources_per_worker=worker_resources(plan)),
        run_config=RunConfig(name=run.name, storage_path=str((run.path / "ray").resolve()),
                             # a dry run cannot be resumed, so it is not retried
                             failure_config=FailureConfig(max_failures=0 if dry_run else plan.ray.max_retries),
                             # Ray Train would also log every print, so each line would reach this terminal twice
                             worker_runtime_env={"env_vars": {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}}),
    )
    try:
        trainer.fit()
    except TrainingFailedError as err:
        # Ray's view names the rank that failed; rank 0's own record may only say its peer went away
        error = failure_line(err)
        run.update_status(state="failed", error=error, finished=run.status().finished or now())
        print(f"{exp.name}: failed | {error} | {run.path}")
        return 1
    except BaseException as err:
        error = "interrupted" if isinstance(err, KeyboardInterrupt) else f"{type(err).__name__}: {err}"
        run.update_status(state="failed", error=error, finished=now())
        raise
    finally:
        if joined:
            ray.shutdown()  # leaves the cluster (or stops the local instance), flushing the workers' output first
    status = run.status()
    print(f"{exp.name}: {status.state} | {workers} Ray Train workers | {run.path}")
    return 0 if status.state == "finished" else 1
