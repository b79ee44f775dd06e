"""plait validate: print the resolved experiment, or every problem in it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from plait.config import load_experiment

if TYPE_CHECKING:
    from plait.config.schema import Experiment

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
        missing = missing_files(exp, str(spec))
        if missing:
            failed.extend(missing)
            continue
        if not args.quiet:
            print(f"# {spec}")
            print(yaml.safe_dump(exp.model_dump(mode="json"), sort_keys=False), end="")
    if failed:
        raise ConfigError(*failed)
    return 0


def missing_files(exp: "Experiment", source: str) -> list[str]:
    """One line per data file (or init_from run) the experiment names that does not exist."""
    lines = []
    data = exp.data.source
    for name in type(data).model_fields:
        value = getattr(data, name)
        if isinstance(value, Path) and not value.exists():
            lines.append(f"{source}: data.source.{name}: {value} does not exist")
    if exp.init_from and not Path(exp.init_from).is_dir():
        lines.append(f"{source}: init_from: {exp.init_from} does not exist")
    return lines
