"""Every row of the bad-input table (tests/bad_inputs.py): one line naming the problem, the row's exit code, no
traceback, and no run directory left behind (unless the row says what it leaves)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plait.cli import main
from tests.bad_inputs import CASES, HOLDERS, Case, Ctx, markdown
from tests.tiny import write_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained run with complete checkpoints, shared by every run-directory case (each damages a copy)."""
    folder = tmp_path_factory.mktemp("bad-inputs-run")
    exp = write_experiment(folder, "trained", **{"train.max_steps": 4, "train.save_every": 2,
                                                 "data.source.train_size": 16, "data.source.test_size": 4})
    assert main(["run", str(exp), "--no-progress"]) == 0
    (run,) = (folder / "runs" / "trained").iterdir()
    return run


def run_dirs(folder: Path) -> set[Path]:
    return {p.parent for p in folder.rglob("status.json")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, request: pytest.FixtureRequest, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PLAIT_CACHE", os.environ.get("PLAIT_CACHE", str(tmp_path / "cache")))
    ctx = Ctx(tmp_path / "case")
    ctx.folder.mkdir()
    if case.needs_run:
        source = request.getfixturevalue("trained_run")
        ctx.run = tmp_path / "runs" / "trained" / source.name
        shutil.copytree(source, ctx.run)
    before = run_dirs(tmp_path)
    argv = case.setup(ctx)
    try:
        code = main(argv)
    finally:
        for holder in HOLDERS:
            holder.kill()
            holder.wait()
        HOLDERS.clear()
        if (ctx.folder / "runs").exists():
            (ctx.folder / "runs").chmod(0o755)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code == case.code, err or out
    assert case.expect in (err if case.code else out + err), err or out
    if case.code:
        errors = [line for line in err.splitlines() if line.startswith("plait: error:")]
        assert len(errors) == 1 and case.expect in errors[0], err
    left = run_dirs(tmp_path) - before
    if case.leaves == "nothing":
        assert not left, left
    else:
        (run,) = left
        status = (run / "status.json").read_text()
        assert '"state": "failed"' in status and '"nonfinite"' in status


def test_docs_table_is_generated_from_the_cases() -> None:
    assert (ROOT / "tests" / "BAD_INPUTS.md").read_text() == markdown()


def test_first_line_on_stderr_is_plaits_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    """In a fresh process (third-party import notices included): the error is the only line; --debug adds the
    traceback."""
    exp = write_experiment(tmp_path, "dup")
    exp.write_text(exp.read_text() + "seed: 3\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    plain = subprocess.run([sys.executable, "-m", "plait", "run", str(exp)], capture_output=True, text=True, env=env)
    assert plain.returncode == 2
    assert plain.stderr.splitlines() == [f"plait: error: {exp} line {len(exp.read_text().splitlines())}: "
                                         "not valid YAML (duplicate key `seed` (first given on line 2))"]
    debug = subprocess.run([sys.executable, "-m", "plait", "run", str(exp), "--debug"], capture_output=True,
                           text=True, env=env)
    assert debug.returncode == 2 and "Traceback" in debug.stderr and debug.stderr.splitlines()[-1].startswith("plait:")
