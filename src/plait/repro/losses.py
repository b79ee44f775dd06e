"""Logged training losses of runs, and the first step at which they part."""

from __future__ import annotations

from typing import Any

from plait.runs import atomic
from plait.runs.rundir import RunDir

COMPARED = ("loss", "grad_norm", "learning_rate")


def loss_series(run: RunDir) -> list[dict[str, Any]]:
    """The run's training log events in order: step, stage (if any) and the compared values."""
    return [
        {"step": r["step"], "stage": r.get("stage"), **{k: r[k] for k in COMPARED if k in r}}
        for r in atomic.read_jsonl(run.metrics)
        if r.get("split") == "train"
    ]


def first_divergence(series: list[list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The first logged event at which any run differs from the first run (values compared exactly).

    None when every run logged the same events with the same values. A run that logged fewer events
    diverges where its log ends.
    """
    if len(series) < 2:
        return None
    reference = series[0]
    longest = max(len(s) for s in series)
    for index in range(longest):
        events = [s[index] if index < len(s) else None for s in series]
        if all(e == reference[index] if index < len(reference) else e is None for e in events):
            continue
        known = next(e for e in events if e is not None)
        values = [{k: e.get(k) for k in COMPARED} if e else None for e in events]
        keys = [k for k in COMPARED if len({repr(v and v.get(k)) for v in values}) > 1]
        return {"step": known["step"], "stage": known.get("stage"), "index": index, "keys": keys,
                "values": values}
    return None
