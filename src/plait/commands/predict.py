"""plait predict: generate an answer for every row of a manifest into a JSONL file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "predict"
HELP = "batch generation with a trained run over a JSONL/CSV manifest, written as JSONL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run directory (runs/<experiment>/<run-id>)")
    parser.add_argument("--data", required=True, type=Path, metavar="FILE",
                        help="manifest (.jsonl, .json, .csv, .tsv); media paths are relative to it")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="JSONL to write: id, prompt, prediction (and reference when the manifest has one)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="prompts per batch (default 32)")
    parser.add_argument("--max-new-tokens", type=int, metavar="N",
                        help="most tokens per answer (default: what the run's evaluation used)")
    parser.add_argument("--beams", type=int, default=1, metavar="N", help="beam-search width (default 1 = greedy)")
    parser.add_argument("--id-field", default="id", help="id column (default id; row number when absent)")
    parser.add_argument("--media-field", "--image-field", dest="media_field", default="image",
                        help="image / feature / pose path column (default image)")
    parser.add_argument("--prompt-field", default="prompt", help="prompt column (default prompt)")
    parser.add_argument("--reference-field", default="target",
                        help="reference column, copied to the output when present (default target)")
    parser.add_argument("--decoder-prompt-field", default="decoder_prompt",
                        help="decoder-prompt column, used when present (encoder-decoder families; default decoder_prompt)")
    parser.add_argument("--max-bad-fraction", type=float, default=0.0, metavar="F",
                        help="skip (and count) rows whose media cannot be used, up to this share of the manifest "
                             "(0-1; default 0: any unusable row refuses the manifest)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args: argparse.Namespace) -> int:
    from plait.errors import UserError, check_writable_file
    from plait.serve.predict import Fields, check_media, predict, read_prompts
    from plait.serve.session import LoadedRun

    for flag, value in (("--batch-size", args.batch_size), ("--beams", args.beams),
                        ("--max-new-tokens", args.max_new_tokens)):
        if value is not None and value < 1:
            raise UserError(f"{flag}: {value} is not allowed; use an integer >= 1")
    if not 0.0 <= args.max_bad_fraction <= 1.0:
        raise UserError(f"--max-bad-fraction: {args.max_bad_fraction} is not allowed; use a share between 0 and 1")
    check_writable_file(args.out, "--out")
    fields = Fields(args.id_field, args.media_field, args.prompt_field, args.reference_field,
                    args.decoder_prompt_field)
    samples, has_reference = read_prompts(args.data, fields)
    loaded = LoadedRun(args.run)
    samples, skipped = check_media(loaded, samples, args.data, args.max_bad_fraction)
    if skipped:
        print(f"predict: skipped {sum(skipped.values())} rows with unusable media "
              f"({', '.join(f'{r}: {n}' for r, n in skipped.items())})", file=sys.stderr)
    stats = predict(loaded, samples, has_reference, args.out, args.batch_size,
                    args.max_new_tokens or loaded.default_max_new_tokens(), args.beams, not args.no_progress)
    print(f"predict: {stats['samples']} samples in {stats['seconds']:.2f} s "
          f"({stats['samples_per_second']:.1f} samples/s) -> {args.out}")
    return 0
