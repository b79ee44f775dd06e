"""The GLUE table from run directories only: per task the max over its runs (the run picked by the task's last
reporting metric, as Numenta's TaskResults.reduce_metrics("max") does), mean +- std beside, the averages with and
without WNLI, and the pretrained model's perplexity and eval loss; as markdown, CSV and LaTeX.

No library builds this table (checked: evaluate's glue metric scores one run; pandas formats but does not pick
runs; Numenta's export_finetuning_results.py is a script over its own pickles), so the pick and the averages
are here; statistics does the means and sample standard deviations."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from plait.glue.tasks import TASKS, GlueTask
from plait.runs import atomic
from plait.runs.rundir import RunDir, find_runs


@dataclass
class TaskCell:
    """A task's runs for one pretrained model."""

    task: GlueTask
    runs: list[dict[str, float]] = field(default_factory=list)
    """Per finished run, its reported values by name."""

    @property
    def picked(self) -> dict[str, float] | None:
        """The run with the largest last reporting metric (ties: the earliest run)."""
        last = self.task.reported[-1].name
        scored = [r for r in self.runs if not math.isnan(r[last])]
        return max(scored, key=lambda r: r[last]) if scored else None

    def score(self) -> float | None:
        """The picked run's mean over the task's reporting metrics (Numenta's consolidate)."""
        picked = self.picked
        return statistics.fmean(picked.values()) if picked else None

    def stats(self, name: str) -> tuple[float, float]:
        """Mean and sample std (0 for one run) of a reported value over the runs."""
        values = [r[name] for r in self.runs if not math.isnan(r[name])]
        if not values:
            return math.nan, math.nan
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def run_values(run: RunDir, task: GlueTask) -> dict[str, float] | None:
    """The run's reported values, or None when a split's evaluation is missing."""
    values = {}
    for r in task.reported:
        record = run.eval_result(r.split)
        if record is None or r.metric not in record.get("metrics", {}):
            return None
        values[r.name] = float(record["metrics"][r.metric])
    return values


def collect_row(folder: Path, tasks: list[str]) -> dict[str, TaskCell]:
    """Each task's finished runs under <row folder>/<task>-run<k>/."""
    cells = {name: TaskCell(TASKS[name]) for name in tasks}
    for run in find_runs([folder]):
        status = run.status()
        task = status.tags.get("glue_task")
        if status.state != "finished" or status.dry_run or task not in cells:
            continue
        values = run_values(run, TASKS[task])
        if values is not None:
            cells[task].runs.append(values)
    return cells


def pretrained_scores(path: str, is_run: bool) -> dict[str, float]:
    """Perplexity and eval loss of the pretrained run (validation, else test), and its measured sparsity (the
    share of zero weights over the whole model, with train.sparsity); empty for a checkpoint."""
    if not is_run:
        return {}
    status = RunDir(Path(path)).status()
    out = {"sparsity": float(status.sparsity["overall"])} if status.sparsity and "overall" in status.sparsity else {}
    for split in ("validation", "test"):
        metrics = (atomic.read_json(Path(path) / "eval" / f"{split}.json") or {}).get("metrics", {})
        if "perplexity" in metrics:
            return out | {"perplexity": float(metrics["perplexity"]), "eval_loss": float(metrics.get("loss", math.nan))}
    return out


@dataclass
class Row:
    """One pretrained model's line of the table."""

    label: str
    cells: dict[str, TaskCell]
    pretrained: dict[str, float]

    def average(self, with_wnli: bool) -> float | None:
        """Mean task score over the row's tasks (average_glue), or without WNLI (average_bert); None if a task
        has no finished run."""
        scores = [c.score() for name, c in self.cells.items() if with_wnli or name != "wnli"]
        return statistics.fmean(scores) if scores and None not in scores else None


def caption(runs: dict[str, int]) -> str:
    """The rule the table follows, stated with its run counts."""
    groups: dict[int, list[str]] = {}
    for name, n in runs.items():
        groups.setdefault(n, []).append(TASKS[name].column)
    parts = [f"{n} run{'s' if n > 1 else ''} for {', '.join(cols)}" for n, cols in sorted(groups.items(), reverse=True)]
    return ("GLUE validation scores x100: per task the max over N fine-tuning runs (" + "; ".join(parts) + "), "
            "the reported run being the one with the largest last metric of the task (MNLI mm, MRPC accuracy, QQP F1, "
            "STS-B Spearman), with mean +- std over the runs in brackets. average_bert leaves WNLI out, "
            "average_glue does not; each averages the picked runs' task means. CoLA: Matthews corr.; MNLI: "
            "matched/mismatched acc.; MRPC: F1/acc.; QQP: acc./F1; STS-B: Pearson/Spearman; others: acc. "
            "Perplexity and eval loss: the pretrained model's held-out masked- or causal-LM figures; sparsity: its "
            "measured share of zero weights over the whole model (embeddings included), for sparse runs.")


def _fmt(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def _percent(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.2f}%"


def _cell(cell: TaskCell, with_spread: bool = True) -> str:
    picked = cell.picked
    if picked is None:
        return ""
    names = [r.name for r in cell.task.reported]
    best = "/".join(_fmt(picked[n]) for n in names)
    if not with_spread or len(cell.runs) < 2:
        return best
    spread = "/".join(f"{_fmt(m)}±{_fmt(s)}" for m, s in (cell.stats(n) for n in names))
    return f"{best} ({spread})"


def headers(tasks: list[str]) -> list[str]:
    return ["model", "average_bert", "average_glue", *(TASKS[t].column for t in tasks), "perplexity", "eval loss",
            "sparsity"]


def display_rows(rows: list[Row], tasks: list[str]) -> list[list[str]]:
    out = []
    for row in rows:
        loss = row.pretrained.get("eval_loss")
        out.append([row.label, _fmt(row.average(False)), _fmt(row.average(True)),
                    *(_cell(row.cells[t]) for t in tasks), _fmt(row.pretrained.get("perplexity")),
                    "" if loss is None else f"{loss:.3f}", _percent(row.pretrained.get("sparsity"))])
    return out


def display_frame(rows: list[Row], tasks: list[str]) -> pd.DataFrame:
    """The table as shown: one line per pretrained model, cells already formatted."""
    return pd.DataFrame(display_rows(rows, tasks), columns=headers(tasks))


def markdown(rows: list[Row], tasks: list[str], runs: dict[str, int]) -> str:
    return display_frame(rows, tasks).to_markdown(index=False, disable_numparse=True) + f"\n\n{caption(runs)}\n"


def latex(rows: list[Row], tasks: list[str], runs: dict[str, int]) -> str:
    styler = display_frame(rows, tasks).style.hide(axis="index").format(escape="latex").format_index(
        escape="latex", axis=1)
    table = styler.to_latex(hrules=True, column_format="l" + "r" * (len(tasks) + 5), position="t",
                            caption=caption(runs).replace("_", r"\_").replace("+-", r"$\pm$"))
    return table.replace("±", r"$\pm$")


def csv_text(rows: list[Row], tasks: list[str]) -> str:
    """Machine-readable: per reported value its max (picked run), mean, std and the run count."""
    records = []
    for row in rows:
        record: dict[str, Any] = {"model": row.label, "average_bert": row.average(False),
                                  "average_glue": row.average(True)}
        for t in tasks:
            cell = row.cells[t]
            picked = cell.picked or {}
            for r in cell.task.reported:
                mean, std = cell.stats(r.name)
                record |= {f"{t}_{r.name}": picked.get(r.name), f"{t}_{r.name}_mean": mean, f"{t}_{r.name}_std": std}
            record[f"{t}_runs"] = len(cell.runs)
        records.append(record | {"perplexity": row.pretrained.get("perplexity"),
                                 "eval_loss": row.pretrained.get("eval_loss"), "sparsity": row.pretrained.get("sparsity")})
    return pd.DataFrame(records).to_csv(index=False)


def write_tables(folder: Path, rows: list[Row], tasks: list[str], runs: dict[str, int]) -> dict[str, Path]:
    """table.md, table.csv and table.tex in `folder`."""
    files = {"markdown": folder / "table.md", "csv": folder / "table.csv", "latex": folder / "table.tex"}
    atomic.write_text(files["markdown"], markdown(rows, tasks, runs))
    atomic.write_text(files["csv"], csv_text(rows, tasks))
    atomic.write_text(files["latex"], latex(rows, tasks, runs))
    return files
