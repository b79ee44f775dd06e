"""plait eval: score a finished run on a split (generation with explicit settings)."""

from __future__ import annotations

import argparse

from plait.errors import UserError

NAME = "eval"
HELP = "evaluate a run's saved model on a split; writes eval/<split>.json and predictions/<split>.jsonl"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"], help="split to score")
    parser.add_argument("--num-beams", type=int, default=None, help="beam width (default: the run's eval.num_beams)")
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="generation length in tokens (default: the run's setting, or derived from the data)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def main(args: argparse.Namespace) -> int:
    from plait.config.load import with_overrides
    from plait.evaluate.generate import derive_max_new_tokens
    from plait.pipeline import evaluate_run_splits, load_run, prepare_data

    run, exp, built = load_run(args.run)
    data = prepare_data(exp, dry_run=run.status().dry_run)
    if not data.splits.get(args.split):
        raise UserError(f"--split {args.split}: the run's data has no {args.split} split "
                        f"(available: {', '.join(sorted(data.splits))})")
    exp = with_overrides(exp, {"eval.splits": [args.split]}, "--split")
    for flag, key, value in (("--num-beams", "eval.num_beams", args.num_beams),
                             ("--max-new-tokens", "eval.max_new_tokens", args.max_new_tokens)):
        if value is not None:
            exp = with_overrides(exp, {key: value}, flag)
    max_new = exp.eval.max_new_tokens or derive_max_new_tokens(built.processor, data.splits["train"])
    metrics = evaluate_run_splits(exp, run, built, data, max_new, progress=not args.no_progress)
    values = metrics.get(args.split, {})
    print(f"{run.path} {args.split}: " + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))
    return 0
