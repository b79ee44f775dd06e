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
    parser.add_argument("--models", action="store_true",
                        help="also instantiate each model config with transformers and look for `pretrained` "
                             "checkpoints offline, as `plait run` does before its run directory (imports "
                             "transformers: seconds)")


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
        if args.models:
            missing += model_problems(exp, str(spec), [o.partition("=")[0] for o in args.overrides])
        if missing:
            failed.extend(missing)
            continue
        if not args.quiet:
            print(f"# {spec}")
            print(yaml.safe_dump(exp.model_dump(mode="json"), sort_keys=False), end="")
    if failed:
        raise ConfigError(*failed)
    return 0


def model_problems(exp: "Experiment", source: str, set_keys: list[str]) -> list[str]:
    """plait.models.preflight's problems with the experiment's model, one line each, naming the file or the
    `--set` key that gave the value."""
    from plait.errors import ConfigError
    from plait.models.preflight import check_model

    try:
        check_model(exp.model)
    except ConfigError as err:
        lines = []
        for line in err.lines:
            key = line.partition(":")[0]
            given = next((k for k in reversed(set_keys) if key == k or key.startswith(k + ".")), None)
            lines.append(f"--set {line}" if given == key else f"{f'--set {given}' if given else source}: {line}")
        return lines
    return []


def missing_files(exp: "Experiment", source: str) -> list[str]:
    """One line per data file (or init_from run) the experiment names that does not exist."""
    lines = [f"{source}: {line}" for line in [*exp.data.missing_files(), *exp.teacher_problems()]]
    if exp.init_from and not Path(exp.init_from).is_dir():
        lines.append(f"{source}: init_from: {exp.init_from} does not exist")
    return lines
