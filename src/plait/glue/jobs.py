"""The fine-tuning runs of a GLUE suite: one ordinary experiment (and run directory) per pretrained model, task
and run; finished ones are never run again, so a killed `plait glue` resumes where it stopped."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from plait.config.load import deep_merge
from plait.core.checkpoints import checkpoint_problem
from plait.errors import UserError
from plait.glue.config import GlueSuite
from plait.glue.tasks import TASKS, hf_source, model_keys
from plait.runs import atomic
from plait.runs.rundir import RunDir, find_runs


@dataclass(frozen=True)
class Pretrained:
    """A table row: a finished text run (fine-tunes start from it by init_from) or a checkpoint folder/name."""

    label: str
    path: str
    is_run: bool


@dataclass(frozen=True)
class Job:
    """One fine-tuning run."""

    row: str
    task: str
    run: int
    file: Path
    """The job's resolved experiment (YAML)."""
    output_dir: Path

    @property
    def name(self) -> str:
        return f"{self.task}-run{self.run}"


def pretrained(spec: str) -> Pretrained:
    """`LABEL=PATH` or PATH: a run directory with a saved text model, or a checkpoint for model.pretrained."""
    label, sep, path = spec.partition("=")
    if not sep:
        label, path = "", spec
    folder = Path(path)
    saved = folder / "model" / "plait_model.json"
    if saved.is_file():
        family = json.loads(saved.read_text()).get("family")
        if family != "text":
            raise UserError(f"--from {spec}: the run holds a {family} model; GLUE fine-tunes text models")
        return Pretrained(label or f"{folder.resolve().parent.name}-{folder.name}", str(folder.resolve()), True)
    if folder.is_dir() and (folder / "status.json").is_file():
        raise UserError(f"--from {spec}: the run has no saved model (model/plait_model.json); let it finish first")
    if folder.exists() and not (folder / "config.json").is_file():
        raise UserError(f"--from {spec}: neither a run directory nor a transformers checkpoint (no config.json)")
    if not folder.exists() and (problem := checkpoint_problem(path, "--from", "give a finished text run "
                                                              "directory or a transformers checkpoint")):
        raise UserError(problem)
    shown = label or (folder.name if folder.exists() else path.replace("/", "-"))
    return Pretrained(shown, str(folder.resolve()) if folder.exists() else path, False)


def suite_folder(suite: GlueSuite) -> Path:
    return Path(suite.output_dir).resolve() / suite.name


def base_model(source: Pretrained) -> dict[str, Any]:
    """The model section a fine-tune starts from: the run's own text config, or a checkpoint."""
    if source.is_run:
        saved = json.loads((Path(source.path) / "model" / "plait_model.json").read_text())["model"]
        return {**saved, "labels": None, "problem": "single_label"}
    return {"family": "text", "pretrained": source.path}


def job_experiment(suite: GlueSuite, source: Pretrained, task: str, run: int) -> dict[str, Any]:
    """The fine-tune's experiment as a mapping: the suite's and the task's keys over the pretrained model, then
    what plait glue fixes (task head, data, evaluation of the reported metrics, seed, place)."""
    t = TASKS[task]
    if suite.glue_dir is None:
        data = {"kind": "builtin_glue", "task": task, **suite.builtin.model_dump()}
    else:
        data = hf_source(task, suite.glue_dir).model_dump(mode="json")
    metrics = list(dict.fromkeys(r.metric for r in t.reported))
    fixed = {
        "name": f"{task}-run{run}", "seed": suite.seed + run - 1,
        "output_dir": str(suite_folder(suite) / source.label), "tags": {"glue": suite.name, "glue_task": task,
                                                                         "glue_row": source.label},
        "model": {**model_keys(task), **({"labels": None} if t.labels is None else {})},
        "data": {"source": data},
        "eval": {"task": "classify", "splits": sorted({r.split for r in t.reported}, reverse=True),
                 "metrics": metrics, "headline": t.reported[-1].metric},
    }
    if source.is_run:
        fixed["init_from"] = source.path
    raw = deep_merge({"model": base_model(source)}, suite.experiment)
    return deep_merge(deep_merge(raw, suite.tasks[task].experiment), fixed)


def plan_jobs(suite: GlueSuite, sources: list[Pretrained]) -> list[Job]:
    """Every job, its experiment written to <suite>/jobs/<row>/<task>-run<k>.yaml and validated now, so a bad
    recipe fails before any training."""
    from plait.config.load import load_experiment

    folder = suite_folder(suite)
    jobs = []
    for source in sources:
        for task in suite.tasks:
            for run in range(1, suite.runs(task) + 1):
                file = folder / "jobs" / source.label / f"{task}-run{run}.yaml"
                atomic.write_yaml(file, job_experiment(suite, source, task, run))
                load_experiment(file)
                jobs.append(Job(source.label, task, run, file, folder / source.label))
    return jobs


def finished_run(job: Job) -> RunDir | None:
    """The job's finished run directory (the newest, should there be several), or None."""
    done = [r for r in find_runs([job.output_dir / job.name])
            if r.status().state == "finished" and not r.is_dry_run]
    return done[-1] if done else None


def _claim_path(job: Job) -> Path:
    return job.output_dir.parent / "claims" / job.row / f"{job.name}.claim"


def clear_claims(suite: GlueSuite) -> None:
    """Forget the claims of an earlier invocation (its workers are gone)."""
    shutil.rmtree(suite_folder(suite) / "claims", ignore_errors=True)


@contextlib.contextmanager
def claimed(job: Job) -> Iterator[bool]:
    """True when this process took the job (an exclusive create), False when another worker holds it."""
    path = _claim_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        yield False
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)


def run_job(job: Job, launcher: list[str]) -> None:
    """Train and evaluate the job: in this process, or through `plait run`'s launcher flags."""
    if launcher:
        code = subprocess.run([sys.executable, "-m", "plait", "run", str(job.file), "--no-progress", *launcher],
                              check=False).returncode
        if code != 0:
            raise RuntimeError(f"plait run {job.file} exited with {code}")
        return
    from plait.config.load import load_experiment
    from plait.pipeline import run_experiment

    run_experiment(load_experiment(job.file), progress=False, argv=["plait", "run", str(job.file)])


def work(jobs: list[Job], launcher: list[str]) -> list[str]:
    """Run every unfinished, unclaimed job; return the failures (one line each)."""
    failed = []
    for job in jobs:
        if finished_run(job) is not None:
            continue
        with claimed(job) as mine:
            if not mine or finished_run(job) is not None:
                continue
            try:
                run_job(job, launcher)
            except Exception as err:  # one failed fine-tune is reported, the suite goes on
                first = str(err).splitlines()[0] if str(err) else ""
                failed.append(f"{job.row} {job.name}: {type(err).__name__}: {first}")
    return failed


def worker(jobs: list[Job], launcher: list[str], report: str) -> None:
    """A worker process: work, then leave its failures in `report`."""
    failed = work(jobs, launcher)
    atomic.write_json(Path(report), failed)


def run_all(jobs: list[Job], workers: int, launcher: list[str], folder: Path) -> list[str]:
    """Run the jobs with `workers` processes (1: this one); return the failures."""
    if workers == 1:
        return work(jobs, launcher)
    from plait.sweep.worker import launch

    reports = folder / "worker-reports"
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir(parents=True)
    threads = max(1, (os.cpu_count() or 1) // workers)
    failed: list[str] = []
    # each worker writes its own report; the shared job list is claimed job by job
    codes = launch(workers, _indexed_worker, (jobs, launcher, str(reports)), threads)
    for i, code in enumerate(codes):
        if code != 0:
            failed.append(f"worker {i} exited with code {code}; run plait glue again to retry what it left")
    failed += [line for file in sorted(reports.glob("*.json")) for line in atomic.read_json(file, [])]
    return failed


def _indexed_worker(jobs: list[Job], launcher: list[str], reports: str) -> None:
    worker(jobs, launcher, str(Path(reports) / f"{os.getpid()}.json"))
