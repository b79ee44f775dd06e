"""plait repro: train an experiment N times and prove (or disprove) that the runs are identical."""

from __future__ import annotations

import argparse
import sys

from plait.config import load_experiment
from plait.errors import UserError

NAME = "repro"
HELP = ("train an experiment N times (same seed unless --vary-seed) and report whether initial weights, "
        "losses, final weights and metrics are identical; exits 1 when same-seed runs differ")
NOT_REPRODUCIBLE_EXIT = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment YAML or file.py:function")
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="runs to train (at least 2; default 3)")
    parser.add_argument("--vary-seed", action="store_true",
                        help="give run i the seed + i - 1, to measure the spread the seed causes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key in every run, e.g. --set train.max_steps=100 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def main(args: argparse.Namespace) -> int:
    if args.runs < 2:
        raise UserError(f"--runs: need at least 2 runs to compare, got {args.runs}")
    exp = load_experiment(args.experiment, args.overrides)
    from plait.pipeline import run_experiment
    from plait.repro.repeat import repeat
    from plait.train.seed import prepare_determinism

    if exp.deterministic:
        prepare_determinism()
    report, folder = repeat(exp, args.runs, args.vary_seed,
                            lambda variant: run_experiment(variant, progress=not args.no_progress, argv=sys.argv))
    print((folder / "report.md").read_text())
    print(f"report: {folder / 'report.md'} and {folder / 'report.json'}")
    return NOT_REPRODUCIBLE_EXIT if report["reproducible"] is False else 0
