"""Group runs by configuration and tabulate them: per-run and per-configuration tables (pandas frames)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd

from plait.evaluate.metrics import LOWER_IS_BETTER
from plait.report.collect import RunRecord, shown


@dataclass(frozen=True)
class Column:
    """A metric on a split, e.g. validation exact_match."""

    split: str
    metric: str

    @property
    def label(self) -> str:
        return f"{self.split} {self.metric}"

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    def value(self, run: RunRecord) -> float | None:
        """The run's value, or None (not finished, or not evaluated on this split)."""
        if run.state != "finished":
            return None
        return run.metrics.get(self.split, {}).get(self.metric)

    def fmt(self, value: float | None) -> str:
        if value is None or math.isnan(value):
            return ""
        return f"{value:.4f}" if self.metric == "loss" else f"{value:.2f}"


@dataclass(frozen=True)
class Stats:
    """A metric over a configuration's finished runs."""

    n: int
    mean: float | None
    std: float | None
    max: float | None

    @classmethod
    def of(cls, values: list[float]) -> "Stats":
        if not values:
            return cls(0, None, None, None)
        std = statistics.stdev(values) if len(values) > 1 else None
        return cls(len(values), statistics.fmean(values), std, max(values))


@dataclass(frozen=True)
class Group:
    """The runs of one configuration (every varying key equal; seeds differ)."""

    values: dict[str, Any]
    runs: list[RunRecord]

    def stats(self, column: Column) -> Stats:
        return Stats.of([v for v in (column.value(r) for r in self.runs) if v is not None])

    @property
    def flag(self) -> str:
        """Empty when every run finished; otherwise what did not, and that statistics leave those runs out."""
        states = Counter(r.state for r in self.runs)
        finished = states.pop("finished", 0)
        if not states:
            return ""
        others = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        return f"{others}: left out of the statistics" + ("; no finished run" if finished == 0 else "")


def sort_key(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order before everything else in text order."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, shown(value))


def group_runs(records: list[RunRecord], keys: list[str]) -> list[Group]:
    """Configurations in a fixed order (by their values), each with its runs ordered by seed then path."""
    groups: dict[tuple[str, ...], list[RunRecord]] = {}
    for record in records:
        groups.setdefault(tuple(shown(record.config.get(k)) for k in keys), []).append(record)
    out = [Group({k: runs[0].config.get(k) for k in keys},
                 sorted(runs, key=lambda r: (sort_key(r.seed), str(r.path)))) for runs in groups.values()]
    return sorted(out, key=lambda g: tuple(sort_key(g.values[k]) for k in keys))


def best_index(items: list[Any], score: Any, lower_is_better: bool) -> int | None:
    """Index of the best item by `score(item)` (None scores skipped; ties go to the first)."""
    best, best_value = None, None
    for index, item in enumerate(items):
        value = score(item)
        if value is None:
            continue
        if best_value is None or (value < best_value if lower_is_better else value > best_value):
            best, best_value = index, value
    return best


def runs_frame(groups: list[Group], keys: list[str], columns: list[Column], rank: Column) -> pd.DataFrame:
    """One row per run: varying keys, seed, state, where training stopped, metrics, best mark, flag."""
    runs = [r for g in groups for r in g.runs]
    best = best_index(runs, rank.value, rank.lower_is_better)
    rows = []
    for index, run in enumerate(runs):
        row = {"best": "*" if index == best else "", "run": run.label}
        row |= {k: _cell(run.config.get(k)) for k in keys}
        row |= {"seed": run.seed, "state": run.state, "step": run.step, "epoch": run.epoch}
        if any(r.sparsity is not None for r in runs):
            row["sparsity"] = run.sparsity
        row |= {c.label: c.value(run) for c in columns}
        row["flag"] = "" if run.state == "finished" else f"{run.state}: left out of the statistics"
        rows.append(row)
    return pd.DataFrame(rows)


def summary_frame(groups: list[Group], keys: list[str], columns: list[Column], rank: Column) -> pd.DataFrame:
    """One row per configuration with raw numbers: n, mean, std and max per metric (for CSV)."""
    best = best_index(groups, lambda g: g.stats(rank).mean, rank.lower_is_better)
    rows = []
    for index, group in enumerate(groups):
        steps = [r.step for r in group.runs]
        row = {"best": "*" if index == best else ""} | {k: _cell(group.values[k]) for k in keys}
        row |= {"runs": len(group.runs), "finished": sum(r.state == "finished" for r in group.runs),
                "step min": min(steps), "step max": max(steps), "epoch max": max(r.epoch for r in group.runs)}
        if any(r.sparsity is not None for g in groups for r in g.runs):
            row["sparsity"] = _sparsity(group)
        for column in columns:
            stats = group.stats(column)
            row |= {f"{column.label} n": stats.n, f"{column.label} mean": stats.mean,
                    f"{column.label} std": stats.std, f"{column.label} max": stats.max}
        row["flag"] = group.flag
        rows.append(row)
    return pd.DataFrame(rows)


def display_frame(groups: list[Group], keys: list[str], columns: list[Column], rank: Column) -> pd.DataFrame:
    """The configuration table for people: 'mean ± std' and max per metric, the best row marked."""
    raw = summary_frame(groups, keys, columns, rank)
    rows = []
    for _, row in raw.iterrows():
        steps = f"{row['step min']}" if row["step min"] == row["step max"] else f"{row['step min']}-{row['step max']}"
        out = {"best": row["best"]} | {k: row[k] for k in keys}
        out |= {"runs": f"{row['finished']}/{row['runs']}", "stopped at step": steps}
        if "sparsity" in row:
            out["sparsity"] = "" if _num(row["sparsity"]) is None else f"{100 * row['sparsity']:.2f}%"
        for column in columns:
            mean, std = _num(row[f"{column.label} mean"]), _num(row[f"{column.label} std"])
            text = column.fmt(mean)
            if std is not None:
                text += f" ± {column.fmt(std)}"
            out[f"{column.label} (mean ± std)"] = text
            out[f"{column.label} max"] = column.fmt(_num(row[f"{column.label} max"]))
        out["flag"] = row["flag"]
        rows.append(out)
    return pd.DataFrame(rows)


def _sparsity(group: Group) -> float | None:
    """The measured sparsity of a configuration's finished runs (their mean; equal unless RigL moved the masks)."""
    values = [r.sparsity for r in group.runs if r.state == "finished" and r.sparsity is not None]
    return statistics.fmean(values) if values else None


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _cell(value: Any) -> Any:
    """Config values as table cells: scalars as they are, anything else as text."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else shown(value)
