"""plait run: train, evaluate and record one or more experiments, in sequence."""

from __future__ import annotations

import argparse
import sys

from plait.config import load_experiment
from plait.errors import ConfigError

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


def main(args: argparse.Namespace) -> int:
    from plait.pipeline import run_experiment

    experiments, problems = [], []
    for spec in args.experiments:  # validate all before running any
        try:
            experiments.append(load_experiment(spec, args.overrides))
        except ConfigError as err:
            problems.extend(err.lines)
    if problems:
        raise ConfigError(*problems)
    for exp in experiments:
        run = run_experiment(exp, dry_run=args.dry_run, progress=not args.no_progress, argv=sys.argv)
        status = run.status()
        headline = status.get("headline", {})
        value = headline.get("value")
        shown = f"{headline.get('metric')} {value:.2f}" if isinstance(value, (int, float)) else "no score"
        print(f"{exp.name}: {status.get('state')} | held-out {shown} | {run.path}")
    return 0
