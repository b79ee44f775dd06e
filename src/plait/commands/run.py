"""plait run: train, evaluate and record one or more experiments, in sequence."""

from __future__ import annotations

import argparse
import shlex
import sys

from plait.config import load_experiment
from plait.errors import ConfigError, UserError
from plait.launch.flags import add_launch_arguments

NAME = "run"
HELP = "train and evaluate experiments into run directories, one after another"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiments", nargs="+", metavar="EXP", help="experiment YAML or file.py:function")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key in every experiment, e.g. --set train.lr=3e-4 (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="do every step on a few samples and steps (see the experiment's dry_run section) "
                             "into a run directory marked as a dry run")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN",
                        help="continue RUN (a run directory or run id; default: the experiment's latest unfinished "
                             "run) from its last complete checkpoint, exactly as if it had not stopped")
    parser.add_argument("--force", action="store_true",
                        help="with --resume: continue even if config keys that change training differ from the run's")
    add_launch_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from plait.pipeline import resume_experiment, run_experiment
    from plait.launch.dispatch import launch_elsewhere
    from plait.runs.ranks import (
        announce_rank,
        is_main_process,
        launched_rank,
        launched_run_dir,
        end_launched_rank,
        leave_process_group,
    )
    from plait.train.preempt import PREEMPTED_EXIT
    from plait.train.resume import find_run, plan_resume
    from plait.train.seed import prepare_determinism

    experiments, problems = [], []
    for spec in args.experiments:  # validate all before running any
        try:
            experiments.append(load_experiment(spec, args.overrides))
        except ConfigError as err:
            problems.extend(err.lines)
    if problems:
        raise ConfigError(*problems)
    if args.resume is not None and (args.dry_run or (args.resume and len(experiments) > 1)):
        raise UserError("--resume: give one experiment with a RUN, and no --dry-run")
    if not launched_rank():
        launched = launch_elsewhere(args, experiments)
        if launched is not None:
            return launched
    else:
        announce_rank()
    if any(exp.deterministic for exp in experiments):
        prepare_determinism()
    try:
        for exp in experiments:
            if args.resume is not None:
                launched = launched_run_dir()
                run = launched or find_run(exp.output_dir, exp.name, args.resume or None)
                # a launcher already checked the run against the config (with the user's --force); each rank replans
                plan = plan_resume(run, exp.model_dump(mode="json"), args.force or launched is not None)
                run = resume_experiment(exp, plan, progress=not args.no_progress, argv=sys.argv)
            else:
                run = run_experiment(exp, dry_run=args.dry_run, progress=not args.no_progress, argv=sys.argv,
                                     run=launched_run_dir())
            if not is_main_process():  # rank 0 reports the run
                continue
            status = run.status()
            if status.state == "preempted":
                again = [*args.experiments, *(f"--set={o}" for o in args.overrides), "--resume", str(run.path)]
                print(f"{exp.name}: preempted at step {status.step} | resume with: plait run {shlex.join(again)}")
                return end_launched_rank(PREEMPTED_EXIT)
            headline = status.headline
            shown = f"{headline.metric} {headline.value:.2f}" if headline and headline.value is not None else "no score"
            print(f"{exp.name}: {status.state} | held-out {shown} | {run.path}")
    finally:
        leave_process_group()
    return end_launched_rank(0)
