"""plait summarize: tables and plots from run directories (a sweep folder, a runs folder, or single runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "summarize"
HELP = "tables (markdown, CSV, LaTeX) and plots (PNG) of run directories, grouped by configuration over seeds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("roots", nargs="+", metavar="RUNS_OR_SWEEP",
                        help="run directories, or folders searched for them (e.g. a sweep folder)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output folder (default: <folder>/summary for a single folder, else ./summary)")
    parser.add_argument("--metric", dest="metrics", action="append", default=None, metavar="M",
                        help="metric to report (repeatable; the first ranks configurations; default: eval.headline)")
    parser.add_argument("--split", default=None, metavar="SPLIT",
                        help="split that ranks configurations (default: validation when evaluated, else test)")
    parser.add_argument("--dry-runs", action="store_true", help="include dry runs")


def default_out(roots: list[str]) -> Path:
    """<folder>/summary for one folder that is not itself a run, else ./summary."""
    if len(roots) == 1 and Path(roots[0]).is_dir() and not (Path(roots[0]) / "status.json").exists():
        return Path(roots[0]) / "summary"
    return Path("summary")


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from plait.report.summarize import summarize

    out = args.out or default_out(args.roots)
    summary = summarize(args.roots, out, args.metrics, args.split, args.dry_runs)
    table = Table(title=f"{len(summary.records)} runs, {len(summary.groups)} configurations; "
                        f"ranked by {summary.rank.label} (all metrics: summary.md)")
    shown = ["best", *summary.keys, "runs", "stopped at step", f"{summary.rank.label} (mean ± std)",
             f"{summary.rank.label} max", "flag"]
    short = {k: k.rsplit(".", 1)[-1] for k in summary.keys}
    if len(set(short.values())) < len(short):  # the last parts clash: keep the dotted keys
        short = {k: k for k in summary.keys}
    for column in shown:
        table.add_column(short.get(column, column).replace(f"{summary.rank.label} (mean ± std)", "mean ± std")
                         .replace(f"{summary.rank.label} max", "max"))
    for _, row in summary.display[shown].iterrows():
        table.add_row(*["" if value is None else str(value) for value in row.tolist()])
    console = Console()
    console.print(table)
    for note in summary.notes:
        console.print(f"[yellow]{note}[/]")
    console.print(f"wrote {len(summary.files)} files to {out}: {', '.join(p.name for p in summary.files)}")
    return 0
