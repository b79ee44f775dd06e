"""Accuracy by category across runs (LaVIN's ScienceQA table: Method | NAT ... | Average) and its bar plot.

Read from each run's eval/<split>.json `categories` (written by multiple-choice evaluation); nothing else.
"""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from plait.report.plots import _colors, group_label, plt, png
from plait.report.table import Group, best_index
from plait.runs import atomic


def run_categories(path: Any, split: str) -> dict[str, dict[str, Any]]:
    """{category: {correct, total, accuracy}} of one run's split, or {} (not multiple choice, not evaluated)."""
    return (atomic.read_json(path / "eval" / f"{split}.json", {}) or {}).get("categories") or {}


DERIVED = ("model.layer_dropout.",)
"""Keys that follow from others (the resolved dropout follows model.adapter.dropout): left out of row names."""


def method_names(groups: list[Group]) -> list[str]:
    """A row name per configuration: the experiment name when those differ, else the varying keys that are set
    (the last two parts of each, e.g. schedule.kind=cyclic, dropout.prob=0.2)."""
    names = [sorted({r.path.parent.name for r in g.runs}) for g in groups]
    if len({tuple(n) for n in names}) == len(groups) and all(len(n) == 1 for n in names):
        return [n[0] for n in names]
    out = []
    for group in groups:
        shown = [f"{'.'.join(k.split('.')[-2:])}={v}" for k, v in group.values.items()
                 if v is not None and not k.startswith(DERIVED)]
        out.append(", ".join(shown) or group_label(group))
    return out


def category_frame(groups: list[Group], split: str) -> tuple[pd.DataFrame, list[str]] | None:
    """(Method | category columns..., with 'runs'), mean accuracy over each configuration's finished runs; None
    when no run has categories on `split`."""
    order: list[str] = []
    rows = []
    for name, group in zip(method_names(groups), groups):
        per_run = [run_categories(r.path, split) for r in group.runs if r.state == "finished"]
        per_run = [c for c in per_run if c]
        for cats in per_run:
            order += [k for k in cats if k not in order]
        row: dict[str, Any] = {"Method": name}
        for key in order:
            values = [c[key]["accuracy"] for c in per_run if c.get(key, {}).get("accuracy") is not None]
            row[key] = statistics.fmean(values) if values else None
        row["runs"] = len(per_run)
        rows.append(row)
    if not order:
        return None
    frame = pd.DataFrame(rows).reindex(columns=["Method", *order, "runs"])
    return frame, order


def category_markdown(frame: pd.DataFrame, columns: list[str]) -> str:
    """The table with two decimals (as the official scorer prints) and the best value of each column in bold."""
    text = frame.astype(object).copy()
    for column in columns:
        values = [None if pd.isna(v) else float(v) for v in frame[column]]
        best = best_index(values, lambda v: v, False)
        text[column] = ["" if v is None else (f"**{v:.2f}**" if i == best else f"{v:.2f}")
                        for i, v in enumerate(values)]
    return text.to_markdown(index=False, disable_numparse=True) + "\n"


def category_bars(frame: pd.DataFrame, columns: list[str], split: str) -> bytes:
    """Grouped bars: one group per category, one bar per configuration."""
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(columns) * max(len(frame), 1) / 2 + 3), 5))
    width = 0.8 / max(len(frame), 1)
    colors = _colors(list(range(len(frame))))
    for i, (_, row) in enumerate(frame.iterrows()):
        heights = [0.0 if pd.isna(row[c]) else float(row[c]) for c in columns]
        ax.bar([j + i * width for j in range(len(columns))], heights, width, label=str(row["Method"]), color=colors[i])
    ax.set_xticks([j + width * (len(frame) - 1) / 2 for j in range(len(columns))], columns)
    ax.set(ylabel="accuracy (%)", ylim=(0, 100), title=f"{split} accuracy by category")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return png(fig)


def category_outputs(groups: list[Group], splits: list[str]) -> dict[str, Any]:
    """categories[-<split>].md / .csv and category_bars[-<split>].png for each split with categories."""
    outputs: dict[str, Any] = {}
    for split in splits:
        found = category_frame(groups, split)
        if found is None:
            continue
        frame, columns = found
        suffix = "" if split == "test" else f"-{split}"
        outputs[f"categories{suffix}.md"] = category_markdown(frame, columns)
        outputs[f"categories{suffix}.csv"] = frame.to_csv(index=False)
        outputs[f"category_bars{suffix}.png"] = category_bars(frame, columns, split)
    return outputs
