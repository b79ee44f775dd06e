"""`--launcher slurm`: `plait run` as a submitit job that checkpoints and requeues itself when stopped.

submitit sends SIGUSR2 before the time limit; SLURM sends SIGTERM on pre-emption. Either reaches
plait's pre-emption path while training (a complete checkpoint, status `preempted`); the job then
hands the signal back to submitit, which calls `checkpoint()` and requeues it, and the requeued job
resumes the same run directory from that checkpoint.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from plait.config.schema import Experiment
from plait.errors import UserError
from plait.config.launch import LaunchConfig, SlurmConfig
from plait.runs.ranks import FollowerRunDir
from plait.runs.rundir import RunDir, create_run_dir

CLUSTER_ENV = "PLAIT_SUBMITIT_CLUSTER"
"""submitit cluster: slurm (default) or local (submitit's local executor: tests, a laptop)."""

console = Console(stderr=True)


def make_executor(folder: Path, name: str, slurm: SlurmConfig) -> Any:
    """A submitit executor with the SLURM resources of `slurm` (logs and pickles under `folder`)."""
    try:
        import submitit
    except ImportError:
        raise UserError("--launcher slurm needs submitit: pip install 'plait[cluster]'") from None

    cluster = os.environ.get(CLUSTER_ENV, "slurm")
    if cluster not in ("slurm", "local"):
        raise UserError(f"{CLUSTER_ENV}={cluster}: use slurm or local")
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise UserError(f"--launcher slurm: no `sbatch` on this machine; run it on a SLURM login node "
                        f"(or set {CLUSTER_ENV}=local to run the job here through submitit)")
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster, slurm_max_num_timeout=slurm.max_requeues,
                                     local_max_num_timeout=slurm.max_requeues)
    tasks = max(slurm.gpus_per_node, 1)
    executor.update_parameters(
        name=name, timeout_min=slurm.time_min, nodes=slurm.nodes, tasks_per_node=tasks,
        gpus_per_node=slurm.gpus_per_node, cpus_per_task=slurm.cpus_per_task,
        slurm_partition=slurm.partition, slurm_account=slurm.account,
        slurm_signal_delay_s=slurm.signal_delay_s,
        slurm_array_parallelism=slurm.array_parallelism,
        slurm_additional_parameters={k.replace("-", "_"): v for k, v in slurm.sbatch.items()},
    )
    return executor


def record_job(run: RunDir, **fields: Any) -> None:
    """Merge job facts (id, state, ...) into status.json's `job` record."""
    job = run.status().job
    run.update_status(job={**(job.model_dump(exclude_none=True) if job else {}), **fields})


@dataclass
class RunJob:
    """What submitit runs: one experiment into one run directory, continued after each requeue."""

    spec: str
    overrides: list[str]
    run_path: str

    def __call__(self) -> str:
        import submitit

        from plait.config import load_experiment
        from plait.pipeline import resume_experiment, run_experiment
        from plait.train.resume import plan_resume

        job = submitit.JobEnvironment()
        if job.num_tasks > 1:  # one process per GPU: the Trainer picks up the exported torch.distributed env
            submitit.helpers.TorchDistributedEnvironment().export()
        main = job.global_rank == 0
        run = RunDir(Path(self.run_path)) if main else FollowerRunDir(Path(self.run_path))
        exp = load_experiment(self.spec, self.overrides)
        run.update_status(pid=os.getpid(), host=socket.gethostname())
        record_job(run, id=str(job.job_id), state="RUNNING")
        if run.config.exists():  # requeued: continue from the last complete checkpoint
            # other ranks skip the liveness check: rank 0 has already claimed the run
            plan = plan_resume(run, exp.model_dump(mode="json"), force=not main)
            resume_experiment(exp, plan, progress=False)
        else:
            run_experiment(exp, progress=False, run=run)
        state = run.status().state
        if state == "preempted":
            record_job(run, state="PREEMPTED")
            # plait took the signal while training; give it to submitit now: checkpoint() + requeue
            os.kill(os.getpid(), signal.SIGUSR2)
        record_job(run, state="COMPLETED" if state == "finished" else str(state).upper())
        return self.run_path

    def checkpoint(self) -> Any:
        """Called by submitit on the stop signal: the same job again, which resumes the run directory."""
        import submitit

        record_job(RunDir(Path(self.run_path)), state="REQUEUED")
        return submitit.helpers.DelayedSubmission(RunJob(self.spec, self.overrides, self.run_path))


def submit(exp: Experiment, slurm: SlurmConfig, spec: str, overrides: list[str],
           run: RunDir | None = None) -> tuple[RunDir, Any]:
    """Submit `exp` as a job into `run` (default: a new run directory); return it and the submitit job."""
    run = run or create_run_dir(exp.output_dir, exp.name, hold=False)  # the job takes the lock
    run.update_status(pid=None)  # no process owns the run until the job starts
    executor = make_executor(run.path / "slurm", exp.name, slurm)
    job = executor.submit(RunJob(spec, list(overrides), str(run.path.resolve())))
    record_job(run, launcher="slurm", id=str(job.job_id), state="SUBMITTED", logs=str(run.path / "slurm"))
    return run, job


def submit_run(exp: Experiment, plan: LaunchConfig, spec: str, overrides: list[str], resume: str | None,
               wait: bool) -> int:
    """`plait run --launcher slurm`: submit, print the job, and with `wait` follow it to the end."""
    run = None
    if resume is not None:
        from plait.train.resume import find_run

        run = find_run(exp.output_dir, exp.name, resume or None)
    run, job = submit(exp, plan.slurm, spec, overrides, run)
    console.print(f"[bold]plait[/] {exp.name}: submitted job {job.job_id} into [cyan]{run.path}[/]")
    if not wait:
        return 0
    job.wait()
    state = run.status().state
    print(f"{exp.name}: {state} | job {job.job_id} {job.state} | {run.path}")
    return 0 if state == "finished" else 1
