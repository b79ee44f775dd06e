"""PNG plots of run directories: loss curves, learning-rate schedules, metric per configuration, sweep parameters."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

from plait.report.collect import RunRecord  # noqa: E402
from plait.report.table import Column, Group, best_index, sort_key  # noqa: E402

LEGEND_MAX = 12
"""More lines than this and the legend would hide the plot; colours still tell configurations apart."""


def group_label(group: Group) -> str:
    """Short text naming a configuration by its varying keys (last part of each dotted key)."""
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in group.values.items()) or "all runs"


def png(fig: Any) -> bytes:
    """The figure as PNG bytes (no timestamp or version metadata, so equal plots are equal files)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _series(run: RunRecord, split: str, key: str) -> tuple[list[int], list[float]]:
    # a staged run's stages each count from 1; global_step runs on across them, so curves follow one another
    points = sorted({e.get("global_step", e["step"]): e[key] for e in run.events
                     if e.get("split") == split and isinstance(e.get(key), (int, float))}.items())
    return [p[0] for p in points], [p[1] for p in points]


def _colors(groups: list[Group]) -> list[Any]:
    cmap = plt.get_cmap("viridis" if len(groups) > 10 else "tab10")
    return [cmap(i / max(len(groups) - 1, 1)) if len(groups) > 10 else cmap(i) for i in range(len(groups))]


def loss_curves(groups: list[Group]) -> bytes:
    """Training loss (solid) and validation loss (dashed, markers) per run, one colour per configuration."""
    fig, ax = plt.subplots(figsize=(8, 5))
    lines = 0
    for group, color in zip(groups, _colors(groups)):
        for run in group.runs:
            label = f"{group_label(group)} seed={run.seed}"
            steps, values = _series(run, "train", "loss")
            if steps:
                ax.plot(steps, values, color=color, linewidth=1.2, label=f"{label} train")
                lines += 1
            steps, values = _series(run, "validation", "loss")
            if steps:
                ax.plot(steps, values, color=color, linestyle="--", marker="o", markersize=3,
                        label=f"{label} validation")
                lines += 1
    ax.set(xlabel="optimizer step", ylabel="loss", title="Training (solid) and validation (dashed) loss")
    ax.grid(alpha=0.3)
    if 0 < lines <= LEGEND_MAX:
        ax.legend(fontsize=7)
    return png(fig)


def lr_schedules(groups: list[Group]) -> bytes:
    """Learning rate against step, one line per configuration (seeds share a schedule)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for group, color in zip(groups, _colors(groups)):
        steps, values = _series(group.runs[0], "train", "learning_rate")
        if steps:
            ax.plot(steps, values, color=color, label=group_label(group))
    ax.set(xlabel="optimizer step", ylabel="learning rate", title="Learning-rate schedule per configuration")
    ax.grid(alpha=0.3)
    if len(groups) <= LEGEND_MAX:
        ax.legend(fontsize=7)
    return png(fig)


def metric_bars(groups: list[Group], column: Column) -> bytes:
    """Mean of `column` per configuration with a std error bar and the max as a dot; the best bar is outlined."""
    stats = [g.stats(column) for g in groups]
    best = best_index(stats, lambda s: s.mean, column.lower_is_better)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(groups) + 2), 5))
    positions = range(len(groups))
    means = [s.mean if s.mean is not None else 0.0 for s in stats]
    errors = [s.std or 0.0 for s in stats]
    bars = ax.bar(positions, means, yerr=errors, capsize=4, color="tab:blue", alpha=0.75)
    for i, s in enumerate(stats):
        if s.max is not None:
            ax.plot(i, s.max, marker="o", color="black", markersize=4)
        if s.n == 0:
            ax.text(i, 0, "none finished", rotation=90, ha="center", va="bottom", fontsize=7)
    if best is not None:
        bars[best].set(edgecolor="red", linewidth=2.5)
    ax.set_xticks(list(positions), [group_label(g) for g in groups], rotation=60, ha="right", fontsize=7)
    ax.set(ylabel=column.label, title=f"{column.label} per configuration (mean ± std over seeds; dot: max; red: best)")
    ax.grid(axis="y", alpha=0.3)
    return png(fig)


def metric_vs_params(groups: list[Group], column: Column, log_keys: set[str]) -> bytes:
    """The metric of every finished run against each searched parameter."""
    keys = list(groups[0].values) if groups else []
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4 * max(len(keys), 1), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        points = [(g.values[key], column.value(r)) for g in groups for r in g.runs if column.value(r) is not None]
        numeric = all(sort_key(x)[0] == 0 for x, _ in points)
        if numeric:
            ax.scatter([x for x, _ in points], [y for _, y in points], alpha=0.7)
            if key in log_keys:
                ax.set_xscale("log")
        else:
            levels = sorted({str(x) for x, _ in points})
            ax.scatter([levels.index(str(x)) for x, _ in points], [y for _, y in points], alpha=0.7)
            ax.set_xticks(range(len(levels)), levels, rotation=45, ha="right")
        ax.set(xlabel=key, ylabel=column.label)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{column.label} against each searched parameter (finished runs)")
    return png(fig)


def importance_bars(importances: dict[str, float], column: Column) -> bytes:
    """Horizontal bars of parameter importance for `column`."""
    items = sorted(importances.items(), key=lambda kv: (kv[1], kv[0]))
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(items) + 1.5))
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:green")
    ax.set(xlabel="importance (fANOVA, share of variance)", title=f"Parameter importance for {column.label}")
    ax.grid(axis="x", alpha=0.3)
    return png(fig)
