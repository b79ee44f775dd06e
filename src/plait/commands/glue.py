"""plait glue: fine-tune pretrained text models on each GLUE task (ordinary run directories, resumable, in
parallel) and write the max-over-N table."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from plait.errors import ConfigError, UserError

NAME = "glue"
HELP = ("fine-tune pretrained text models (runs or checkpoints) on every task of a GLUE suite and write the "
        "max-over-N table (markdown, CSV, LaTeX); run it again to resume, finished fine-tunes are kept")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="GLUE suite YAML (tasks, recipes, runs per task; see experiments/glue-*.yaml)")
    parser.add_argument("--from", dest="sources", action="append", default=[], metavar="[LABEL=]PATH",
                        help="a finished text run directory or a transformers checkpoint; one table row each "
                             "(repeatable; default: the rows of the suite's earlier invocation)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a suite key, e.g. --set tasks.cola.runs=3 (repeatable)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="fine-tunes run at once, each in its own process with cores/N threads (default 1)")
    parser.add_argument("--launcher", choices=["local", "slurm", "ray"], default="local",
                        help="where each fine-tune trains: this machine, or as `plait run --launcher slurm|ray`")
    parser.add_argument("--wait", action="store_true", help="with --launcher slurm: wait for each job (needed for "
                        "the table; without it plait glue submits and a later invocation tabulates)")
    parser.add_argument("--table-only", action="store_true",
                        help="write the table from the finished runs, train nothing")


def load_suite(path: str, overrides: list[str]):  # -> GlueSuite
    """The validated suite; every problem in one ConfigError."""
    from pydantic import ValidationError

    from plait.config.load import apply_overrides
    from plait.glue.config import GlueSuite

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{path}: suite file not found")
    raw = apply_overrides(yaml.safe_load(file.read_text()) or {}, overrides, path)
    glue_dir = raw.get("glue_dir")
    if isinstance(glue_dir, str) and not Path(glue_dir).is_absolute() and (file.parent / glue_dir).exists():
        raw["glue_dir"] = str((file.parent / glue_dir).resolve())
    try:
        return GlueSuite.model_validate(raw)
    except ValidationError as err:
        lines = [f"{path}: {'.'.join(str(p) for p in e['loc']) or '(top level)'}: "
                 f"{e['msg'].removeprefix('Value error, ')}" for e in err.errors()]
        raise ConfigError(*lines) from None


def main(args: argparse.Namespace) -> int:
    from plait.glue import jobs as glue_jobs
    from plait.glue.table import Row, collect_row, pretrained_scores, write_tables
    from plait.runs import atomic

    suite = load_suite(args.suite, args.overrides)
    if args.workers < 1:
        raise UserError(f"--workers: must be at least 1, got {args.workers}")
    folder = glue_jobs.suite_folder(suite)
    rows_file = folder / "rows.json"
    if args.sources:
        sources = [glue_jobs.pretrained(spec) for spec in args.sources]
    elif rows_file.is_file():
        sources = [glue_jobs.Pretrained(**r) for r in atomic.read_json(rows_file)]
    else:
        raise UserError("--from: give a pretrained run directory or checkpoint (this suite has no earlier rows)")
    labels = [s.label for s in sources]
    if len(set(labels)) != len(labels):
        raise UserError(f"--from: two rows share the label {labels}; name them LABEL=PATH")
    atomic.write_json(rows_file, [s.__dict__ for s in sources])
    atomic.write_yaml(folder / "suite.yaml", suite.model_dump(mode="json"))
    start = time.perf_counter()
    failed: list[str] = []
    if not args.table_only:
        jobs = glue_jobs.plan_jobs(suite, sources)
        done = sum(glue_jobs.finished_run(j) is not None for j in jobs)
        print(f"plait glue {suite.name}: {len(jobs)} fine-tunes, {done} already finished, {args.workers} worker(s); "
              f"folder {folder}")
        glue_jobs.clear_claims(suite)
        launcher = [] if args.launcher == "local" else ["--launcher", args.launcher, *(["--wait"] if args.wait else [])]
        failed = glue_jobs.run_all(jobs, args.workers, launcher, folder)
    tasks = list(suite.tasks)
    rows = [Row(s.label, collect_row(folder / s.label, tasks), pretrained_scores(s.path, s.is_run)) for s in sources]
    files = write_tables(folder, rows, tasks, {t: suite.runs(t) for t in tasks})
    print(files["markdown"].read_text())
    print(f"tables: {', '.join(str(p) for p in files.values())} ({time.perf_counter() - start:.0f} s)")
    for line in failed:
        print(f"failed: {line}")
    return 1 if failed else 0
