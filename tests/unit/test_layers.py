"""Layering: subpackages import each other in one direction, and config validation loads no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_import_cycle_between_subpackages():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "layers.py")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert "cycle:" not in done.stdout
    core = next(line for line in done.stdout.splitlines() if line.startswith("core")) if "core " in done.stdout else ""
    assert core == ""  # the bottom layer imports nothing else of plait


def test_config_and_registry_import_without_torch():
    code = ("import sys, plait.config.schema, plait.config.load, plait.models.registry, plait.evaluate.tasks; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_validating_the_quickstarts_imports_no_torch():
    """`plait validate` stays fast: no config validator reaches for transformers or torch (the checks that
    need them live in plait.models.preflight, run by `plait run` and `plait validate --models`)."""
    names = ["quickstart", "signs-quickstart", "scienceqa-quickstart", "text-quickstart"]
    code = ("import sys; from plait.config import load_experiment\n"
            f"for name in {names!r}:\n"
            "    load_experiment(f'experiments/{name}.yaml')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
