"""plait glue end to end on tiny models: ordinary run directories, the table, and a killed invocation that
resumes without rerunning finished fine-tunes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from plait.cli import main
from plait.config.load import load_experiment
from plait.pipeline import run_experiment
from plait.runs.rundir import find_runs
from tests.text_tiny import pretrain_experiment

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrain")
    file = folder / "tiny-mlm.yaml"
    file.write_text(yaml.safe_dump({**pretrain_experiment(), "output_dir": str(folder / "runs")}))
    return run_experiment(load_experiment(file), progress=False).path


def _suite(tmp_path: Path, runs: dict[str, int]) -> Path:
    suite = {"name": "tiny-glue", "output_dir": str(tmp_path / "out"),
             "builtin": {"train_size": 16, "validation_size": 10},
             "tasks": {task: {"runs": n} for task, n in runs.items()},
             "experiment": {"train": {"max_steps": 2, "batch_size": 8, "log_every": 1}, "eval": {"batch_size": 16}}}
    file = tmp_path / "suite.yaml"
    file.write_text(yaml.safe_dump(suite))
    return file


def _finished(folder: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for run in find_runs([folder]):
        if run.status().state == "finished":
            out.setdefault(run.path.parent.name, []).append(run.path.name)
    return out


def test_glue_writes_runs_and_the_table(pretrained, tmp_path):
    suite = _suite(tmp_path, {"sst2": 2, "mnli": 1})
    assert main(["glue", str(suite), "--from", f"tiny={pretrained}", "--workers", "2"]) == 0
    folder = tmp_path / "out" / "tiny-glue"
    assert _finished(folder / "tiny").keys() == {"sst2-run1", "sst2-run2", "mnli-run1"}
    table = (folder / "table.md").read_text()
    assert "| tiny " in table and "2 runs for SST-2; 1 run for MNLI" in table
    mnli = next(r for r in find_runs([folder / "tiny" / "mnli-run1"]))
    assert (mnli.path / "eval" / "test.json").is_file()  # mismatched, scored as plait's test split
    assert yaml.safe_load(mnli.config.read_text())["init_from"] == str(pretrained)
    assert (folder / "table.csv").is_file() and (folder / "table.tex").is_file()


def test_a_killed_glue_resumes_without_rerunning_finished_fine_tunes(pretrained, tmp_path):
    suite = _suite(tmp_path, {"sst2": 3, "rte": 3})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen([sys.executable, "-m", "plait", "glue", str(suite), "--from", f"tiny={pretrained}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    row = tmp_path / "out" / "tiny-glue" / "tiny"
    deadline = time.time() + 240
    while time.time() < deadline and not _finished(row) and child.poll() is None:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    before = _finished(row)
    assert before, "the first fine-tune did not finish in time"
    assert main(["glue", str(suite)]) == 0  # rows come from the earlier invocation
    after = _finished(row)
    assert after.keys() == {f"{t}-run{k}" for t in ("sst2", "rte") for k in (1, 2, 3)}
    for job, runs in before.items():
        assert after[job] == runs  # a finished fine-tune is never run again
