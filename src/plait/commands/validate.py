"""plait validate: print the resolved experiment, or every problem in it."""

from __future__ import annotations

import argparse
import sys

import yaml

from plait.config import load_experiment

NAME = "validate"
HELP = "check experiments and print them fully resolved (every default written out)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiments", nargs="+", metavar="EXP", help="experiment YAML or file.py:function")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.lr=3e-4 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="print nothing when valid")


def main(args: argparse.Namespace) -> int:
    from plait.errors import ConfigError

    failed: list[str] = []
    for spec in args.experiments:
        try:
            exp = load_experiment(spec, args.overrides)
        except ConfigError as err:
            failed.extend(err.lines)
            continue
        # the config is valid; data not there yet (an example to fill in, a disk not mounted here) is said,
        # even with --quiet, as what `plait run` would stop on
        for line in exp.data.missing_files():
            print(f"plait: warning: {spec}: {line} (plait run stops on it)", file=sys.stderr)
        if not args.quiet:
            print(f"# {spec}")
            print(yaml.safe_dump(exp.model_dump(mode="json"), sort_keys=False), end="")
    if failed:
        raise ConfigError(*failed)
    return 0
