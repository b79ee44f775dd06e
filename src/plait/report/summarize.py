"""A summary of run directories: tables (markdown, CSV, LaTeX) and PNG plots in one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from plait.errors import UserError
from plait.report import plots
from plait.report.categories import category_outputs
from plait.report.collect import RunRecord, collect, varying_keys
from plait.report.importance import importances, log_scaled
from plait.report.table import Column, Group, display_frame, group_runs, runs_frame, summary_frame
from plait.runs import atomic

SPLIT_ORDER = ("validation", "test")


@dataclass
class Summary:
    """What was summarised and written."""

    records: list[RunRecord]
    keys: list[str]
    columns: list[Column]
    rank: Column
    groups: list[Group]
    files: list[Path]
    notes: list[str]
    display: pd.DataFrame


def choose_columns(records: list[RunRecord], metrics: list[str] | None,
                   split: str | None) -> tuple[list[Column], Column]:
    """Metric columns (each chosen metric on each evaluated split) and the column that ranks configurations."""
    splits = sorted({s for r in records for s in r.metrics}, key=lambda s: (SPLIT_ORDER.index(s)
                                                                             if s in SPLIT_ORDER else 99, s))
    chosen = metrics or sorted({str(r.config["eval.headline"]) for r in records if "eval.headline" in r.config})
    if not chosen:
        raise UserError("--metric: the runs name no eval.headline; give the metric to report, e.g. --metric bleu")
    known = {m for r in records for values in r.metrics.values() for m in values}
    unknown = [m for m in chosen if known and m not in known]
    if unknown:
        raise UserError(f"--metric: {', '.join(unknown)} not in any run's eval/*.json; "
                        f"available: {', '.join(sorted(known))}")
    if split is not None and split not in splits:
        raise UserError(f"--split: no run was evaluated on {split!r}; evaluated splits: {', '.join(splits) or 'none'}")
    columns = [Column(s, m) for m in chosen for s in splits]
    rank_split = split or (splits[0] if splits else "validation")
    return columns, Column(rank_split, chosen[0])


def is_sweep(records: list[RunRecord]) -> bool:
    """The runs come from one sweep (tagged by plait sweep; a run killed before it was tagged does not count)."""
    return len({r.tags.get("sweep") for r in records} - {None}) == 1


def summarize(roots: list[str | Path], out: Path, metrics: list[str] | None = None, split: str | None = None,
              dry_runs: bool = False) -> Summary:
    """Read the runs under `roots` and write tables and plots into `out`; the result does not depend on root order."""
    records, notes = collect(roots, dry_runs)
    keys = varying_keys(records)
    columns, rank = choose_columns(records, metrics, split)
    groups = group_runs(records, keys)
    outputs: dict[str, Any] = {}
    frames = {"runs": runs_frame(groups, keys, columns, rank), "summary": summary_frame(groups, keys, columns, rank)}
    display = display_frame(groups, keys, columns, rank)
    outputs["runs.csv"] = frames["runs"].to_csv(index=False)
    outputs["summary.csv"] = frames["summary"].to_csv(index=False)
    outputs["runs.md"] = _markdown(frames["runs"], columns)
    outputs["summary.md"] = _markdown(display, columns)
    outputs["runs.tex"] = _latex(frames["runs"], columns)
    outputs["summary.tex"] = _latex(display, columns)
    outputs["loss_curves.png"] = plots.loss_curves(groups)
    outputs["lr_schedule.png"] = plots.lr_schedules(groups)
    outputs["metric_bars.png"] = plots.metric_bars(groups, rank)
    splits = sorted({s for r in records for s in r.metrics}, key=lambda s: (s != "test", s))
    outputs |= category_outputs(groups, splits)  # multiple-choice runs: accuracy by category
    if is_sweep(records) and keys:
        outputs["metric_vs_params.png"] = plots.metric_vs_params(groups, rank, log_scaled(groups))
        found = importances(groups, rank)
        if isinstance(found, str):
            notes.append(f"no parameter importance: {found}")
        else:
            outputs["importance.png"] = plots.importance_bars(found, rank)
            outputs["importance.csv"] = pd.DataFrame(
                [{"parameter": k, "importance": v} for k, v in found.items()]).to_csv(index=False)
    files = []
    for name, content in outputs.items():
        path = out / name
        (atomic.write_bytes if isinstance(content, bytes) else atomic.write_text)(path, content)
        files.append(path)
    return Summary(records, keys, columns, rank, groups, files, notes, display)


def _as_text(frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """Every cell as the text people read: metrics rounded by their column, config values as written."""
    formats = {c.label: c.fmt for c in columns}
    text = frame.astype(object).where(frame.notna(), None)
    for name in text.columns:
        fmt = formats.get(name)
        text[name] = [("" if v is None else fmt(float(v)) if fmt else str(v)) for v in text[name]]
    return text


def _markdown(frame: pd.DataFrame, columns: list[Column]) -> str:
    return _as_text(frame, columns).to_markdown(index=False, disable_numparse=True) + "\n"


def _latex(frame: pd.DataFrame, columns: list[Column]) -> str:
    styler = _as_text(frame, columns).style.hide(axis="index").format(escape="latex")
    styler = styler.format_index(escape="latex", axis=1)
    return styler.to_latex(hrules=True, column_format="l" * len(frame.columns)).replace("±", r"$\pm$")
