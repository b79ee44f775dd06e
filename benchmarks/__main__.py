"""python -m benchmarks {overhead,feature-cache,padding-free,pose-cache,sparsity-overhead,new-families,data-path,
text-encoding,prompt-encoding,mix-data-path,all} [--repeats N] [--append]

Runs the issue-9 speed benchmarks in this process and prints each as a Markdown section; with --append,
also appends it to benchmarks/RESULTS.md. Exits 1 when a figure misses its target.
"""

from __future__ import annotations

import argparse
import os

import torch

from benchmarks.common import RESULTS
from benchmarks.data_path import DataPath
from benchmarks.feature_cache import FeatureCache
from benchmarks.mix_data_path import MixDataPath
from benchmarks.new_families import NewFamilies
from benchmarks.overhead import Overhead
from benchmarks.padding_free import PaddingFree
from benchmarks.pose_cache import PoseCache
from benchmarks.prompt_encoding import PromptEncoding
from benchmarks.sparsity_overhead import SparsityOverhead
from benchmarks.text_encoding import TextEncoding
from plait.bench.report import append

BENCHMARKS = {b.name: b for b in (Overhead(), FeatureCache(), PaddingFree(), PoseCache(), SparsityOverhead(),
                                       NewFamilies(), DataPath(), TextEncoding(), PromptEncoding(),
                                       MixDataPath())}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=[*BENCHMARKS, "all"], help="benchmark to run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant, alternated; medians (default 3)")
    parser.add_argument("--append", action="store_true", help=f"append the sections to {RESULTS}")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice, one per core)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.threads:
        torch.set_num_threads(args.threads)
    ok = True
    for name in BENCHMARKS if args.which == "all" else [args.which]:
        text, met = BENCHMARKS[name].run(args.repeats)
        print(text)
        ok &= met
        if args.append:
            append(RESULTS, text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
