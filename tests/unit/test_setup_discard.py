"""A run directory that bad input stopped during set-up is removed; one that trained, or that a launcher made, stays."""

from __future__ import annotations

import pytest

from plait.errors import UserError
from plait.pipeline import discarded_on_bad_input
from plait.runs.rundir import create_run_dir


def _fails(run, fresh: bool, error: Exception) -> None:
    with pytest.raises(type(error)):
        with discarded_on_bad_input(run, fresh):
            raise error


def test_bad_input_during_set_up_leaves_nothing(tmp_path) -> None:
    run = create_run_dir(tmp_path / "runs", "exp")
    _fails(run, True, UserError("model.x: bad"))
    assert not run.path.exists() and not (tmp_path / "runs" / "exp").exists()


def test_the_experiment_folder_with_other_runs_stays(tmp_path) -> None:
    kept = create_run_dir(tmp_path / "runs", "exp")
    run = create_run_dir(tmp_path / "runs", "exp")
    _fails(run, True, UserError("model.x: bad"))
    assert not run.path.exists() and kept.path.is_dir()


@pytest.mark.parametrize("case", ["trained a step", "saved a model", "launcher's", "not bad input"])
def test_what_stays(tmp_path, case: str) -> None:
    run = create_run_dir(tmp_path / "runs", "exp")
    if case == "trained a step":
        run.update_status(step=3)
    if case == "saved a model":
        run.model.mkdir()
    _fails(run, case != "launcher's", RuntimeError("boom") if case == "not bad input" else UserError("x: bad"))
    assert (run.path / "status.json").is_file()
