"""plait ls: list runs with their status and headline metric."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from plait.runs.rundir import find_runs

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
    for run in find_runs(args.roots):
        status = run.status()
        if status.get("dry_run") and not args.dry_runs:
            continue
        headline = status.get("headline") or {}
        value = headline.get("value")
        shown = f"{headline.get('metric')} {value:.2f}" if isinstance(value, (int, float)) else "-"
        tags = " ".join(f"{k}={v}" for k, v in (status.get("tags") or {}).items())
        state = status.get("state", "?") + (" (dry)" if status.get("dry_run") else "")
        table.add_row(status.get("experiment", run.path.parent.name), run.name, state,
                      str(status.get("step", "")), shown, tags, job_cell(status), str(status.get("started", "")))
        count += 1
    Console().print(table if count else "no runs found")
    return 0


def job_cell(status: dict) -> str:
    """A SLURM job's id and last known state, else how many processes a launcher ran it on, or '-'."""
    job = status.get("job") or {}
    if job.get("id"):
        return f"{job.get('id')} {job.get('state', '?')}"
    launcher = status.get("launcher") or {}
    return f"{launcher['kind']} x{launcher['world_size']}" if launcher.get("world_size") else "-"
