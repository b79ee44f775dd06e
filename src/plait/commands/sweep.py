"""plait sweep: a hyper-parameter search whose trials are ordinary run directories."""

from __future__ import annotations

import argparse

from rich.console import Console

NAME = "sweep"
HELP = "search hyper-parameters of an experiment (grid, random or TPE via Optuna, with pruning); resumable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", metavar="SWEEP", help="sweep YAML (see experiments/sweeps/)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="trials run at once, each worker its own process (default 1: in this process)")
    parser.add_argument("--resume", action="store_true",
                        help="continue a killed sweep: finished trials are kept, trials of dead workers are "
                             "marked failed and retried once more with the same parameters")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of every trial's experiment (train.max_steps=100), or of the sweep "
                             "file with a sweep. prefix (sweep.n_trials=8); repeatable")
    parser.add_argument("--launcher", choices=["local", "slurm", "ray"], default="local",
                        help="local: worker processes here; slurm: --workers workers as one job array; "
                             "ray: every trial a Ray Tune trial")
    parser.add_argument("--address", default=None, metavar="HOST:PORT",
                        help="with --launcher ray: the Ray cluster (default: start Ray on this machine)")
    parser.add_argument("--max-retries", type=int, default=1, metavar="N",
                        help="with --launcher ray: times a failed trial is retried with the same parameters")
    parser.add_argument("--array-parallelism", type=int, default=4, metavar="N",
                        help="with --launcher slurm: array tasks (workers) running at once")


def main(args: argparse.Namespace) -> int:
    from plait.errors import UserError

    if args.workers < 1:
        raise UserError(f"--workers: must be at least 1, got {args.workers}")
    try:
        import optuna  # noqa: F401
        import psutil  # noqa: F401
    except ImportError as err:
        raise UserError(f"plait sweep needs {err.name}: pip install 'plait[sweep]'") from None
    from plait.sweep.load import load_sweep, split_overrides
    from plait.sweep.runner import run_sweep

    sweep_set, exp_set = split_overrides(args.overrides)
    cfg = load_sweep(args.sweep, sweep_set)
    if args.launcher == "slurm":
        from plait.config.launch import SlurmConfig
        from plait.sweep import backend
        from plait.launch.sweep import sweep_on_slurm

        jobs = sweep_on_slurm(cfg, exp_set, args.sweep, SlurmConfig(array_parallelism=args.array_parallelism),
                              args.workers, args.resume)
        ids = ", ".join(str(job.job_id) for job in jobs)
        Console().print(f"{cfg.name}: submitted {len(jobs)} workers as jobs {ids}; follow with plait ls "
                        f"{backend.sweep_dir(cfg)}")
        return 0
    if args.launcher == "ray":
        from plait.config.launch import RayConfig
        from plait.launch.sweep import sweep_on_ray

        if args.max_retries < 0:
            raise UserError(f"--max-retries: must be at least 0, got {args.max_retries}")
        result = sweep_on_ray(cfg, exp_set, args.sweep, RayConfig(address=args.address, max_retries=args.max_retries),
                              args.resume)
    else:
        result = run_sweep(cfg, exp_set, args.sweep, workers=args.workers, resume=args.resume)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result.counts.items()))
    console = Console()
    console.print(f"{cfg.name}: {counts} of {result.n_trials} trials")
    from plait.sweep.backend import sweep_dir

    if result.counts.get("fail"):
        console.print(f"[yellow]{result.counts['fail']} trial(s) failed: their errors are in status.json; "
                      f"plait ls {sweep_dir(cfg) / 'runs'}[/]")
    if result.best:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(result.best["params"].items()))
        console.print(f"best: trial {result.best['number']} value {result.best['value']:.4g} | {shown}")
    console.print(f"tables and plots: plait summarize {sweep_dir(cfg)}")
    return 0 if result.complete else 1
