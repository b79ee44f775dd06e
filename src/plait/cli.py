"""The `plait` command: one subcommand per module in plait.commands, behind one boundary for errors.

What a user can cause (a bad file, value, flag, folder or run directory) is a UserError raised where it is
found, naming the file, row, field or flag; here it becomes one `plait: error:` line and exit code 2. A run
that fails (non-finite training, an unexpected exception) is one line and exit code 1; SIGTERM outside
training is 143. Tracebacks are printed only with `--debug` (anywhere on the command line) or PLAIT_DEBUG=1.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import pkgutil
import sys
import traceback

from plait.errors import RunFailed, Terminated, UserError

DEBUG_FLAG = "--debug"
FAILED_RUN = 1
BAD_INPUT = 2
_INPUT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOENT}


def build_parser() -> argparse.ArgumentParser:
    """Parser with every subcommand found in plait.commands (each module: NAME, HELP, add_arguments, main)."""
    import plait.commands as commands

    from plait.models.registry import specs

    families = "\n".join(f"  {s.name:10s} {s.summary}" for s in specs())
    parser = argparse.ArgumentParser(
        prog="plait", description="Train, evaluate, sweep, audit and compare multimodal language models.",
        epilog=f"model families (model.family):\n{families}\n\nErrors are one line each (exit 2: bad input, "
               "1: a failed run); add --debug anywhere, or set PLAIT_DEBUG=1, for the traceback.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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


def quiet_third_parties() -> None:
    """Keep import-time notices of libraries the run may not use off the terminal.

    A run that uses LoRA or 4 bits imports peft, and peft imports bitsandbytes, whose CPU backend logs a
    warning about an optional kernel package at import (runs that use neither import neither: see
    plait.core.trainer_imports). Its errors still show.
    """
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the subcommand; turn what goes wrong into one line and an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv or os.environ.get("PLAIT_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != DEBUG_FLAG]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not debug:
        quiet_third_parties()
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as err:
        if debug:
            traceback.print_exc()
        for line in err.lines:
            print(f"plait: error: {line}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("plait: interrupted", file=sys.stderr)
        return 130
    except Terminated as err:
        print("plait: terminated by SIGTERM; the run directory's status.json says where it stopped", file=sys.stderr)
        return err.exit_code
    except Exception as err:  # noqa: BLE001  (the boundary: everything else becomes one line)
        if debug:
            traceback.print_exc()
        line, code = describe(err, debug)
        print(f"plait: error: {line}", file=sys.stderr)
        return code


def describe(err: BaseException, debug: bool = False) -> tuple[str, int]:
    """One line and an exit code for an exception that is not a UserError."""
    hint = "" if debug else " (run again with --debug for the traceback)"
    if isinstance(err, RunFailed):
        return f"run failed: {err}", err.exit_code
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return f"{err.filename or 'a file'}: no space left on the device; free some and resume the run", FAILED_RUN
    if isinstance(err, OSError) and err.errno in _INPUT_ERRNOS and err.filename:
        return f"{err.filename}: {err.strerror}", BAD_INPUT
    return f"run failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}{hint}", FAILED_RUN
