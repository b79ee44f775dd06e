"""The `plait` command: one subcommand per module in plait.commands."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from plait.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    """Parser with every subcommand found in plait.commands (each module: NAME, HELP, add_arguments, main)."""
    import plait.commands as commands

    from plait.models.registry import specs

    families = "\n".join(f"  {s.name:10s} {s.summary}" for s in specs())
    parser = argparse.ArgumentParser(
        prog="plait", description="Train, evaluate, sweep, audit and compare multimodal language models.",
        epilog=f"model families (model.family):\n{families}", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"plait.commands.{info.name}")
        if not hasattr(module, "NAME"):
            continue
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(handler=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; user errors print one line each and exit 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as err:
        for line in err.lines:
            print(f"plait: error: {line}", file=sys.stderr)
        return err.exit_code
