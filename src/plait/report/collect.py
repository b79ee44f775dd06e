"""Read run directories (config.yaml, status.json, metrics.jsonl, eval/*.json) into plain records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from plait.errors import UserError
from plait.runs import atomic
from plait.runs.rundir import RunDir, find_runs

IGNORED_KEYS = ("seed", "output_dir")
"""Config keys never shown as differences: seeds are what groups average over; output_dir only says where."""
IGNORED_PREFIXES = ("tags.",)


@dataclass(frozen=True)
class RunRecord:
    """One run directory, as the report needs it."""

    path: Path
    config: dict[str, Any]
    """Flattened config.yaml: dotted key -> value."""
    state: str
    step: int
    epoch: float
    tags: dict[str, str]
    metrics: dict[str, dict[str, float]]
    """eval/<split>.json: split -> metric -> value."""
    events: list[dict[str, Any]]
    """metrics.jsonl."""
    sparsity: float | None = None
    """Measured share of zero weights over the whole model (status.json, runs with train.sparsity)."""

    @property
    def seed(self) -> Any:
        return self.config.get("seed")

    @property
    def label(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def read_run(run: RunDir) -> RunRecord:
    """The record of one run directory; a run without config.yaml is a UserError."""
    if not run.config.exists():
        raise UserError(f"{run.path}: not a run directory (no config.yaml)")
    status = run.status()
    metrics = {}
    if run.eval_dir.is_dir():
        for file in sorted(run.eval_dir.glob("*.json")):
            record = atomic.read_json(file, {})
            metrics[record.get("split", file.stem)] = {k: float(v) for k, v in record.get("metrics", {}).items()
                                                       if isinstance(v, (int, float))}
    return RunRecord(
        path=run.path, config=flatten(yaml.safe_load(run.config.read_text()) or {}),
        state=str(status.state or "unknown"), step=status.step, epoch=status.epoch, tags=dict(status.tags),
        metrics=metrics, events=atomic.read_jsonl(run.metrics),
        sparsity=(status.sparsity or {}).get("overall"),
    )


def collect(roots: list[str | Path], dry_runs: bool = False) -> tuple[list[RunRecord], list[str]]:
    """Every run directory under `roots` (dry runs only when asked), in path order, and notes on what was left out."""
    missing = [str(r) for r in roots if not Path(r).exists()]
    if missing:
        raise UserError(f"RUNS_OR_SWEEP: not found: {', '.join(missing)}")
    found = find_runs(roots)
    unwritten = [run for run in found if not run.config.exists()]
    dry = [run for run in found if run.config.exists() and run.is_dry_run and not dry_runs]
    records = [read_run(run) for run in found if run not in unwritten and run not in dry]
    if not records:
        raise UserError(f"RUNS_OR_SWEEP: no run directories (with config.yaml and status.json) under "
                        f"{', '.join(str(r) for r in roots)}" + (" but dry runs (add --dry-runs)" if dry else ""))
    notes = [f"{len(unwritten)} run director{'y' if len(unwritten) == 1 else 'ies'} without config.yaml left out "
             f"(died before writing it): {', '.join(r.name for r in unwritten)}"] if unwritten else []
    notes += [f"{len(dry)} dry run(s) left out (--dry-runs to include them)"] if dry else []
    return records, notes


def shown(value: Any) -> str:
    """A config value as one comparable, printable string."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def varying_keys(records: list[RunRecord]) -> list[str]:
    """Config keys whose values differ between runs (seed, output_dir and tags left out), sorted."""
    keys = sorted({k for r in records for k in r.config})
    out = []
    for key in keys:
        if key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES):
            continue
        if len({shown(r.config.get(key)) for r in records}) > 1:
            out.append(key)
    return out
