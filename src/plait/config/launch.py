"""The experiment's `launch:` section: where and on how many processes `plait run` trains."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plait.core.strict import Strict


class SlurmConfig(Strict):
    """SLURM resources, passed to submitit (command-line flags override them)."""

    partition: str | None = None
    """SLURM partition (None = the cluster's default)."""
    account: str | None = None
    """SLURM account to charge (None = your default)."""
    nodes: int = Field(1, ge=1)
    """Nodes per job."""
    gpus_per_node: int = Field(0, ge=0)
    """GPUs per node; one training process (task) runs per GPU, or one per node with no GPUs."""
    cpus_per_task: int = Field(4, ge=1)
    """CPU cores per training process."""
    time_min: int = Field(60, ge=1)
    """Time limit in minutes; the job checkpoints and is requeued before it is reached."""
    signal_delay_s: int = Field(120, ge=10)
    """Seconds before the time limit at which SLURM sends SIGUSR2 (time to write a checkpoint)."""
    max_requeues: int = Field(3, ge=0)
    """Times a timed-out job is requeued before it is given up (pre-emptions do not count)."""
    array_parallelism: int = Field(4, ge=1)
    """For `plait sweep --launcher slurm`: trials (array tasks) running at once."""
    sbatch: dict[str, str | int] = {}
    """Extra sbatch options without the leading dashes, e.g. {constraint: a100, qos: high}."""


class RayConfig(Strict):
    """A Ray cluster: a run's training processes (Ray Train workers) or a sweep's trials (Ray Tune trials)."""

    address: str | None = None
    """Ray cluster address (host:port or ray://host:port); None = start a local Ray instance."""
    max_retries: int = Field(1, ge=0)
    """Times a failed trial (sweep) or a failed run (Ray Train, resumed from its last checkpoint) is retried."""
    cpus_per_trial: float = Field(1.0, gt=0)
    """CPUs Ray reserves for each trial (sweep) or each training process (run)."""
    gpus_per_trial: float = Field(0.0, ge=0)
    """GPUs Ray reserves for each trial (sweep) or each training process (run; > 0 trains on GPUs)."""


class LaunchConfig(Strict):
    """How `plait run` is launched; each value can also be given as a flag of `plait run`."""

    launcher: Literal["local", "slurm", "ray"] = "local"
    """local: this machine (torchrun when nproc > 1); slurm: a submitit job; ray: a Ray Train job on a Ray cluster."""
    nproc: int = Field(1, ge=1)
    """Training processes per node (data parallel; torchrun when > 1, or Ray Train workers)."""
    nnodes: int = Field(1, ge=1)
    """Nodes taking part in one run (torchrun's rendezvous joins them)."""
    slurm: SlurmConfig = SlurmConfig()
    """SLURM resources (launcher: slurm)."""
    ray: RayConfig = RayConfig()
    """Ray cluster (launcher: ray)."""
