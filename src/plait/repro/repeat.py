"""Train the same experiment N times and write the repeatability report next to the runs."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from pathlib import Path
from typing import Any, Callable

from plait.config.load import with_overrides
from plait.config.schema import Experiment
from plait.repro.report import build_report, render_markdown
from plait.runs import atomic
from plait.runs.rundir import RunDir


def repro_id() -> str:
    """A fresh id, sortable by time, like run ids."""
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def variants(exp: Experiment, runs: int, vary_seed: bool, ident: str) -> list[Experiment]:
    """The N experiments: initial weights saved, tagged repro=<id> and run=<i>, seeds varied on request."""
    out = []
    for i in range(runs):
        tags = {**exp.tags, "repro": ident, "run": str(i + 1)}
        out.append(with_overrides(exp, {"seed": exp.seed + i if vary_seed else exp.seed, "tags": tags,
                                        "train.save_init": True}, "plait repro"))
    return out


def repeat(exp: Experiment, runs: int, vary_seed: bool, train: Callable[[Experiment], RunDir],
           ident: str | None = None) -> tuple[dict[str, Any], Path]:
    """Train the variants one after another with `train`; write report.md and report.json; return both."""
    ident = ident or repro_id()
    start = time.perf_counter()
    done = [train(variant) for variant in variants(exp, runs, vary_seed, ident)]
    report = build_report(done, vary_seed, exp.name, ident, time.perf_counter() - start)
    folder = Path(exp.output_dir) / exp.name / f"repro-{ident}"
    atomic.write_text(folder / "report.json", json.dumps(report, indent=2, default=str) + "\n")
    atomic.write_text(folder / "report.md", render_markdown(report))
    return report, folder
