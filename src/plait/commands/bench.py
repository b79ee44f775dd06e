"""plait bench: training speed and memory of an experiment, beside a hand-written PyTorch loop."""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
from pathlib import Path

from plait.config import load_experiment
from plait.errors import UserError

NAME = "bench"
HELP = ("time an experiment's training steps (throughput, data wait vs compute, peak memory, MFU on GPU) "
        "against a minimal hand-written PyTorch loop on the same model, data and optimizer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment YAML or file.py:function")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.padding_free=true (repeatable)")
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per timed run (default 60)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="first steps left out of the figures (start-up, allocator warm-up; default 10)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per side, alternated plait/reference; figures are medians (default 3)")
    parser.add_argument("--no-reference", action="store_true", help="time plait only")
    parser.add_argument("--no-sync", action="store_true",
                        help="on GPU, do not synchronise at step boundaries (throughput only; the compute/wait "
                             "split is then not meaningful)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="device peak in TFLOP/s for MFU (default: from the GPU's name and train.precision)")
    parser.add_argument("--append", type=Path, default=None, metavar="FILE",
                        help="append the figures as a Markdown section to FILE (e.g. benchmarks/RESULTS.md)")


def main(args: argparse.Namespace) -> int:
    from plait.bench.harness import compare
    from plait.bench.report import append, load, medians, section, table, to_json

    if args.steps < 2 or not 1 <= args.warmup < args.steps:
        raise UserError(f"--warmup {args.warmup} / --steps {args.steps}: need 1 <= warmup < steps")
    if args.repeats < 1:
        raise UserError(f"--repeats {args.repeats}: give at least 1")
    exp = load_experiment(args.experiment, args.overrides)
    from plait.models.registry import capabilities, specs

    if not capabilities(exp.model.family).bench:
        timed = ", ".join(s.name for s in specs() if s.capabilities.bench)
        raise UserError(f"{args.experiment}: model.family: plait bench times the {timed} family, not {exp.model.family}")
    load_before = load()
    peak = args.peak_tflops * 1e12 if args.peak_tflops else None
    timings = compare(exp, args.steps, args.warmup, args.repeats, not args.no_reference, not args.no_sync, peak)
    for t in timings:
        print(json.dumps({"side": t.side, **to_json(t.figures)}))
    sides = {side: medians([t.figures for t in timings if t.side == side]) for side in ("plait", "reference")
             if any(t.side == side for t in timings)}
    notes = [f"{args.steps} steps per run, the first {args.warmup} left out; medians of {args.repeats} runs per side, "
             "alternated in one process (plait first in odd rounds, the reference first in even ones)"]
    extra = {}
    if "reference" in sides:
        plait = [t.figures["step_ms"] for t in timings if t.side == "plait"]
        ref = [t.figures["step_ms"] for t in timings if t.side == "reference"]
        ratio = sides["plait"]["step_ms"] / sides["reference"]["step_ms"]
        per_round = statistics.median(p / r for p, r in zip(plait, ref))
        extra = {"plait": {"step time vs reference": f"{ratio:.3f} (per-round median {per_round:.3f})"}}
        print(f"plait / reference step time: {ratio:.3f} (median of per-round ratios {per_round:.3f})")
    text = table(sides, extra)
    print(text)
    if args.append:
        command = "plait bench " + shlex.join([
            args.experiment, *(f"--set={o}" for o in args.overrides), f"--steps={args.steps}",
            f"--warmup={args.warmup}", f"--repeats={args.repeats}", *(["--no-reference"] if args.no_reference else []),
            *(["--no-sync"] if args.no_sync else []), f"--append={args.append}"])
        append(args.append, section(f"plait bench {args.experiment}", command, text, notes, load_before))
    return 0
