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


COLUMNS = ("experiment", "run", "state", "step", "headline", "tags", "job", "started")
KEPT_WHOLE = ("run", "state")
FEATURES = "features"
"""The column of the frozen-encoder feature cache's decision, shown when a listed run has one."""


def main(args: argparse.Namespace) -> int:
    rows: list[dict[str, str]] = []
    unreadable = []
    for run in find_runs(args.roots):
        try:
            status = run.status()
        except CorruptStatus as err:  # one broken run must not hide the others
            rows.append({"experiment": run.path.parent.name, "run": run.name, "state": "unreadable"})
            unreadable.append(str(err))
            continue
        if status.dry_run and not args.dry_runs:
            continue
        headline = status.headline
        cache = status.feature_cache
        rows.append({
            "experiment": status.experiment or run.path.parent.name, "run": run.name,
            "state": (status.state or "?") + (" (dry)" if status.dry_run else ""), "step": str(status.step),
            "headline": f"{headline.metric} {headline.value:.2f}" if headline and headline.value is not None else "-",
            "tags": " ".join(f"{k}={v}" for k, v in status.tags.items()), "job": job_cell(status),
            "started": status.started or "",
            FEATURES: cache.decision if cache else "",
        })
    columns = [*COLUMNS, *([FEATURES] if any(row.get(FEATURES) for row in rows) else [])]
    table = Table(show_lines=False)
    for column in columns:  # a run's id and state are never cut short, however narrow the terminal
        table.add_column(column, no_wrap=column in KEPT_WHOLE)
    for row in rows:
        table.add_row(*(row.get(c, "-" if c in ("headline", "job") else "") for c in columns))
    Console().print(table if rows else "no runs found")
    for line in unreadable:  # whole, below the table: a narrow terminal would wrap it inside a cell
        print(f"plait ls: unreadable: {line}", file=sys.stderr)
    return 0


def job_cell(status: RunStatus) -> str:
    """A SLURM job's id and last known state, else how many processes a launcher ran it on, or '-'."""
    if status.job and status.job.id:
        return f"{status.job.id} {status.job.state or '?'}"
    launcher = status.launcher
    return f"{launcher.kind} x{launcher.world_size}" if launcher and launcher.world_size else "-"
