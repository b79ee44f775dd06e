"""plait ls: list runs with their status and headline metric."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from plait.runs.rundir import find_runs
from plait.runs.status import CorruptStatus, RunStatus

NAME = "ls"
HELP = "list run directories with status, step and headline metric"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("roots", nargs="*", default=["runs"], help="folders to search (default: runs)")
    parser.add_argument("--dry-runs", action="store_true", help="include dry runs")


def main(args: argparse.Namespace) -> int:
    table = Table(show_lines=False)
    for column in ("experiment", "run", "state", "step", "headline", "tags", "job", "started"):
        table.add_column(column)
    count = 0
    unreadable = []
    for run in find_runs(args.roots):
        try:
            status = run.status()
        except CorruptStatus as err:  # one broken run must not hide the others
            table.add_row(run.path.parent.name, run.name, "unreadable", "", "-", "", "-", "")
            unreadable.append(str(err))
            count += 1
            continue
        if status.dry_run and not args.dry_runs:
            continue
        headline = status.headline
        shown = f"{headline.metric} {headline.value:.2f}" if headline and headline.value is not None else "-"
        tags = " ".join(f"{k}={v}" for k, v in status.tags.items())
        state = (status.state or "?") + (" (dry)" if status.dry_run else "")
        table.add_row(status.experiment or run.path.parent.name, run.name, state,
                      str(status.step), shown, tags, job_cell(status), status.started or "")
        count += 1
    Console().print(table if count else "no runs found")
    for line in unreadable:  # whole, below the table: a narrow terminal would wrap it inside a cell
        print(f"plait ls: unreadable: {line}", file=sys.stderr)
    return 0


def job_cell(status: RunStatus) -> str:
    """A SLURM job's id and last known state, else how many processes a launcher ran it on, or '-'."""
    if status.job and status.job.id:
        return f"{status.job.id} {status.job.state or '?'}"
    launcher = status.launcher
    return f"{launcher.kind} x{launcher.world_size}" if launcher and launcher.world_size else "-"
