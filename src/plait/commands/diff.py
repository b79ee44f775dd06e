"""plait diff: what differs between two runs: config, environment, losses and weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from plait.errors import UserError
from plait.runs import atomic
from plait.runs.rundir import RunDir

NAME = "diff"
HELP = "compare two runs: config, environment (packages, devices, git), logged losses and weights tensor by tensor"
ENV_KEYS = ("packages", "devices", "git", "python", "platform", "host", "seed", "command")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", metavar="RUN_A", help="run directory")
    parser.add_argument("run_b", metavar="RUN_B", help="run directory")
    parser.add_argument("--step", type=int, default=None, metavar="N",
                        help="compare the weights of complete checkpoint step-N (0 = initial weights) "
                             "instead of the final model")
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")


def open_run(path: str) -> RunDir:
    run = RunDir(Path(path))
    if not run.config.exists():
        raise UserError(f"{path}: not a run directory (no config.yaml)")
    return run


def compare(a: RunDir, b: RunDir, step: int | None) -> dict[str, Any]:
    """Config, environment, loss and weight differences of two runs."""
    from plait.runs.configs import with_defaults
    from plait.runs.dicts import differences
    from plait.repro.losses import first_divergence, loss_series
    from plait.repro.weights import compare_files, summary, weights_files

    files = weights_files(a, step), weights_files(b, step)
    roots = (a.model, b.model) if step is None else (a.path, b.path)
    env_a, env_b = atomic.read_json(a.env, {}), atomic.read_json(b.env, {})
    return {
        "runs": [str(a.path), str(b.path)],
        "config": differences(with_defaults(yaml.safe_load(a.config.read_text())),
                              with_defaults(yaml.safe_load(b.config.read_text()))),
        "env": differences({k: env_a.get(k) for k in ENV_KEYS}, {k: env_b.get(k) for k in ENV_KEYS}),
        "losses": first_divergence([loss_series(a), loss_series(b)]),
        "weights": {"step": step, "files": [[str(f) for f in fs] for fs in files],
                    **summary(compare_files(*files, *roots))},
    }


def show(result: dict[str, Any]) -> str:
    from plait.repro.weights import describe

    lines = [f"A: {result['runs'][0]}", f"B: {result['runs'][1]}", ""]
    for title, diffs in (("config", result["config"]), ("environment", result["env"])):
        lines.append(f"{title}: " + ("identical" if not diffs else f"{len(diffs)} difference(s)"))
        lines += [f"  {key}: {old!r} -> {new!r}" for key, old, new in diffs]
    d = result["losses"]
    if d is None:
        lines.append("losses: identical at every logged step")
    else:
        shown = ", ".join(f"{k} {v[k]!r} vs {w[k]!r}" if v and w else "logged by one run only"
                          for k, v, w in [(k, d["values"][0], d["values"][1]) for k in d["keys"] or ["loss"]])
        lines.append(f"losses: first differ at step {d['step']}: {shown}")
    w = result["weights"]
    which = "final model" if w["step"] is None else ("initial weights" if w["step"] == 0 else f"step {w['step']}")
    lines.append(f"weights ({which}): {describe(w, shown=20)}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    a, b = open_run(args.run_a), open_run(args.run_b)
    result = compare(a, b, args.step)
    print(json.dumps(result, indent=2, default=str) if args.json else show(result))
    return 0
