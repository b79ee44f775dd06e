"""A tiny trained run for the chat / serve / speech / predict tests, trained once per test session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from plait.cli import main

QUICKSTART = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.yaml"


@dataclass(frozen=True)
class TinyRun:
    """A finished run directory and the shapes data it was trained on."""

    path: Path
    data: Path

    def image(self, index: int = 0) -> Path:
        return self.data / "images" / f"test-{index:06d}.png"


def tiny_run(factory: pytest.TempPathFactory) -> TinyRun:
    """A quickstart model trained for a few steps (answers need only flow end to end, not be right)."""
    root = factory.getbasetemp() / "serve-tiny-run"
    cache = root / "cache"
    done = root / "RUN"
    if not done.exists():
        before = os.environ.get("PLAIT_CACHE")
        os.environ["PLAIT_CACHE"] = str(cache)
        try:
            code = main(["run", str(QUICKSTART), "--no-progress",
                         "--set", f"output_dir={root}", "--set", "data.source.train_size=32",
                         "--set", "data.source.validation_size=2", "--set", "data.source.test_size=4",
                         "--set", "train.max_steps=30", "--set", "train.batch_size=8",
                         "--set", "train.schedule.warmup_steps=2"])
        finally:
            if before is None:
                os.environ.pop("PLAIT_CACHE")
            else:
                os.environ["PLAIT_CACHE"] = before
        assert code == 0
        (run,) = (root / "quickstart").iterdir()
        done.write_text(str(run))
    (data,) = [p for p in (cache / "builtin").iterdir() if (p / "DONE").exists()]
    return TinyRun(Path(done.read_text()), data)
