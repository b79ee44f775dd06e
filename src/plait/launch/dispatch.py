"""Send each experiment of `plait run` to its launcher, or say that this process runs them."""

from __future__ import annotations

import argparse
import subprocess
import sys

from rich.console import Console

from plait.config.schema import Experiment
from plait.config.launch import LaunchConfig
from plait.launch.flags import child_arguments, launch_config
from plait.launch.torchrun import Topology, launch, shared_run_dir
from plait.runs import lock
from plait.runs.rundir import RunDir
from plait.train.preempt import PREEMPTED_EXIT
from plait.train.resume import find_run, plan_resume

console = Console(stderr=True)


def in_this_process(plan: LaunchConfig) -> bool:
    """Whether the plan is a plain single-process local run."""
    return plan.launcher == "local" and plan.nproc == 1 and plan.nnodes == 1


def resumable(exp: Experiment, given: str, force: bool) -> RunDir:
    """The run a multi-process `--resume` continues, checked here once so that a refusal is one clear line."""
    run = find_run(exp.output_dir, exp.name, given or None)
    lock.refuse_if_held(run.path, "--resume")  # rank 0 will take the lock; refuse here, before any process starts
    plan_resume(run, exp.model_dump(mode="json"), force)
    return run


def launch_elsewhere(args: argparse.Namespace, experiments: list[Experiment]) -> int | None:
    """Launch every experiment through its launcher and return the worst exit code; None: run them here."""
    plans = [launch_config(args, exp.launch) for exp in experiments]
    if all(in_this_process(plan) for plan in plans):
        return None
    codes = []
    for spec, exp, plan in zip(args.experiments, experiments, plans):
        child = child_arguments(args, spec)
        if plan.launcher == "slurm":
            from plait.launch.slurm import submit_run

            codes.append(submit_run(exp, plan, spec, args.overrides, args.resume, args.wait))
        elif plan.launcher == "ray":
            from plait.launch.ray_run import run_on_ray

            run = resumable(exp, args.resume, args.force) if args.resume is not None else None
            codes.append(run_on_ray(exp, plan, child, run, args.dry_run))
        elif in_this_process(plan):
            codes.append(subprocess.run([sys.executable, "-m", "plait", *child], check=False).returncode)
        else:
            topology = Topology(plan.nproc, plan.nnodes, args.node_rank, args.rdzv_endpoint, args.rdzv_id)
            if args.resume is not None:
                run = resumable(exp, args.resume, args.force)
                child += ["--resume", str(run.path)]
            else:
                run = shared_run_dir(exp.output_dir, exp.name, topology, args.dry_run)
            console.print(f"[bold]plait[/] {exp.name}: {plan.nproc * plan.nnodes} processes under torchrun "
                          f"into [cyan]{run.path}[/] (logs per rank: {run.path / 'logs'})")
            code = launch(run, topology, child)
            status = run.status()
            print(f"{exp.name}: {status.state} | {plan.nproc * plan.nnodes} processes | {run.path}")
            if status.state == "preempted":
                print(f"{exp.name}: preempted at step {status.step} | resume with the same command "
                      f"and --resume {run.path}")
                code = PREEMPTED_EXIT
            codes.append(code)
    return max(codes, default=0)
