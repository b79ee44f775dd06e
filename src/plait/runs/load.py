"""Reload a finished run's experiment and model (kept apart from the training pipeline so
chat, serve, predict and eval start without importing the Trainer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from plait.errors import UserError
from plait.runs.rundir import RunDir


def load_run(path: str | Path) -> tuple[RunDir, Any, Any]:
    """(run directory, Experiment, Built) of a run with a saved model."""
    from plait.config.schema import Experiment
    from plait.models.family import get_family

    run = RunDir(Path(path))
    if not run.config.exists():
        raise UserError(f"{path}: not a run directory (no config.yaml)")
    if not (run.model / "plait_model.json").exists():
        raise UserError(f"{path}: the run has no saved model (status: {run.status().state or '?'})")
    exp = Experiment.model_validate(yaml.safe_load(run.config.read_text()))
    return run, exp, get_family(exp.model.family).load(run.model)
