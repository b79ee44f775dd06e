"""status.json as a typed record: today's files load, writes are checked, a corrupt file is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plait.cli import main
from plait.runs.rundir import RunDir, create_run_dir
from plait.runs.status import CorruptStatus, RunState, RunStatus

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "status_v0.json"
"""A status.json in the format plait wrote before the typed model (every key it wrote then)."""


def old_run(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "runs" / "quickstart" / "20261120-101500-ab12")
    run.path.mkdir(parents=True)
    shutil.copy(FIXTURE, run.status_file)
    return run


def test_a_status_in_the_old_format_loads_with_every_key_typed(tmp_path: Path) -> None:
    status = old_run(tmp_path).status()
    assert status.state is RunState.FINISHED and status.state == "finished"
    assert (status.step, status.epoch, status.pid, status.tags) == (60, 2.5, 4242, {"sweep": "grid", "trial": "3"})
    assert status.headline.metric == "exact_match" and status.headline.value == 0.8
    assert status.best.best_step == 40 and status.averaged_checkpoints == [40, 60]
    assert status.resumes[0].from_step == 20 and status.resumes[0].env_changed == ["git"]
    assert status.stages[0].name == "align" and status.stages[0].steps == 30
    assert status.launcher.world_size == 2 and status.job.id == "777"
    assert status.metrics == {"test": {"exact_match": 0.8, "bleu": 40.1}} and status.extra == {}
    raw = {k: v for k, v in json.loads(FIXTURE.read_text()).items() if v is not None}
    written = status.to_json()
    assert {k: written[k] for k in raw} == raw  # nothing lost or renamed by a read and a write


def test_update_merges_validates_and_refuses_unknown_keys(tmp_path: Path) -> None:
    run = old_run(tmp_path)
    after = run.update_status(state="failed", error="boom", sparsity={"density": 0.1})
    assert after.state == "failed" and run.status().error == "boom" and run.status().sparsity == {"density": 0.1}
    assert run.status().headline.value == 0.8  # the rest is kept
    with pytest.raises(ValueError, match="no field typo"):
        run.update_status(typo=1)
    with pytest.raises(ValueError, match="state"):
        run.update_status(state="exploded")
    assert run.status().state == "failed"  # a refused write changes nothing
    run.update_status(error=None)
    assert "error" not in json.loads(run.status_file.read_text())


def test_keys_a_newer_plait_wrote_are_kept_in_extra(tmp_path: Path) -> None:
    run = old_run(tmp_path)
    run.status_file.write_text(json.dumps({**json.loads(FIXTURE.read_text()), "future_key": [1, 2]}))
    assert run.status().extra == {"future_key": [1, 2]}
    run.update_status(step=61)
    assert json.loads(run.status_file.read_text())["extra"] == {"future_key": [1, 2]}


@pytest.mark.parametrize("text, reason", [
    ('{"state": "finished", "step": ', "not valid JSON (line 1"),
    ("[1, 2]", "not a status record (a JSON list"),
    ('{"state": "exploded"}', "state: Input should be"),
    (b"\xff\xfe", "unreadable"),
])
def test_a_corrupt_status_is_one_line_and_ls_lists_the_other_runs(tmp_path: Path, text, reason, capsys,
                                                                   monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich fits the table to the terminal
    good = create_run_dir(tmp_path / "runs", "exp")
    bad = create_run_dir(tmp_path / "runs", "exp")
    bad.status_file.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CorruptStatus, match="status.json: " + reason.split("(")[0]):
        bad.status()
    assert main(["ls", str(tmp_path / "runs"), "--dry-runs"]) == 0
    out, err = capsys.readouterr()
    assert "running" in out and "unreadable" in out  # the good run is listed beside the bad one
    assert f"{bad.status_file}: " in err and reason in err


def test_an_absent_status_is_empty() -> None:
    assert RunDir(Path("/nonexistent/run")).status() == RunStatus()


def test_ls_shows_the_feature_cache_decision_when_a_run_has_one(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    plain = create_run_dir(tmp_path / "runs", "exp")
    assert main(["ls", str(tmp_path / "runs"), "--dry-runs"]) == 0
    assert "features" not in capsys.readouterr().out  # no run decided: no column
    cached = create_run_dir(tmp_path / "runs", "exp")
    cached.update_status(feature_cache={"decision": "on", "setting": "auto", "reason": "pays: saves 1.9 s/epoch"})
    assert main(["ls", str(tmp_path / "runs"), "--dry-runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "features" in next(line for line in lines if "experiment" in line)
    assert next(line for line in lines if cached.name in line).split("│")[-2].strip() == "on"
    assert next(line for line in lines if plain.name in line).split("│")[-2].strip() == ""
    cached.update_status(state="finished")
    monkeypatch.setenv("COLUMNS", "80")  # a narrow terminal: the run ids and states stay whole
    assert main(["ls", str(tmp_path / "runs"), "--dry-runs"]) == 0
    out = capsys.readouterr().out
    assert cached.name in out and plain.name in out and "finished" in out and "running" in out
