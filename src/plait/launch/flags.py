"""`plait run`'s launch flags, and how they combine with the experiment's `launch:` section."""

from __future__ import annotations

import argparse
from plait.core.loader import Override, validate
from plait.errors import UserError
from plait.config.launch import LaunchConfig


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that choose where and on how many processes the run trains (each overrides `launch:`)."""
    group = parser.add_argument_group("launch (override the experiment's launch: section)")
    group.add_argument("--launcher", choices=["local", "slurm", "ray"], default=None,
                       help="local: this machine; slurm: submit a submitit job; ray: a Ray Train job on a Ray cluster")
    group.add_argument("--nproc", type=int, default=None, metavar="N",
                       help="training processes per node: data-parallel under torchrun when N > 1, "
                            "or N Ray Train workers with --launcher ray")
    group.add_argument("--nnodes", type=int, default=None, metavar="N", help="nodes in one run (torchrun)")
    group.add_argument("--node-rank", type=int, default=0, metavar="R", help="this node's rank, 0..nnodes-1")
    group.add_argument("--rdzv-endpoint", default=None, metavar="HOST:PORT",
                       help="multi-node rendezvous address (node 0's host and a free port)")
    group.add_argument("--rdzv-id", default=None, metavar="ID",
                       help="multi-node run id, the same on every node; it names the shared run directory")
    group.add_argument("--partition", default=None, help="SLURM partition")
    group.add_argument("--account", default=None, help="SLURM account")
    group.add_argument("--nodes", type=int, default=None, metavar="N", help="SLURM nodes per job")
    group.add_argument("--gpus-per-node", type=int, default=None, metavar="N", help="SLURM GPUs per node")
    group.add_argument("--time-min", type=int, default=None, metavar="MIN", help="SLURM time limit in minutes")
    group.add_argument("--sbatch", action="append", default=[], metavar="KEY=VALUE",
                       help="extra sbatch option, e.g. --sbatch constraint=a100 (repeatable)")
    group.add_argument("--wait", action="store_true", help="with --launcher slurm: wait for the job to end")
    group.add_argument("--address", default=None, metavar="HOST:PORT",
                       help="with --launcher ray: the Ray cluster (default: start Ray on this machine)")


FLAG_KEYS = {"launcher": "launcher", "nproc": "nproc", "nnodes": "nnodes", "partition": "slurm.partition",
             "account": "slurm.account", "nodes": "slurm.nodes", "gpus_per_node": "slurm.gpus_per_node",
             "time_min": "slurm.time_min", "address": "ray.address"}
"""Each launch flag (argparse dest) and the `launch.` key it sets."""


def launch_config(args: argparse.Namespace, base: LaunchConfig) -> LaunchConfig:
    """The experiment's launch section with the given flags applied, validated as the section is."""
    items = [Override(key, getattr(args, dest), f"--{dest.replace('_', '-')}")
             for dest, key in FLAG_KEYS.items() if getattr(args, dest) is not None]
    sbatch = dict(base.slurm.sbatch)
    for item in args.sbatch:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--sbatch {item}: expected KEY=VALUE, e.g. --sbatch constraint=a100")
        sbatch[key.lstrip("-")] = value
    if args.sbatch:
        items.append(Override("slurm.sbatch", sbatch, "--sbatch"))
    merged = validate(LaunchConfig, base.model_dump(mode="json"), "launch", items) if items else base
    if merged.launcher != "ray" and merged.nnodes > 1 and not (args.rdzv_endpoint and args.rdzv_id):
        raise UserError("--nnodes > 1: give --rdzv-endpoint HOST:PORT and --rdzv-id ID (the same on every node)")
    if not 0 <= args.node_rank < merged.nnodes:
        raise UserError(f"--node-rank: must be in 0..{merged.nnodes - 1}, got {args.node_rank}")
    return merged


def child_arguments(args: argparse.Namespace, spec: str) -> list[str]:
    """`plait run` arguments that repeat this command for one experiment, without the launch flags."""
    out = ["run", spec, *(f"--set={o}" for o in args.overrides)]
    if args.dry_run:
        out.append("--dry-run")
    if args.no_progress:
        out.append("--no-progress")
    return out
