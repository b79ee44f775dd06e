"""Masked-LM pretraining tokens/s: plait's training of text-quickstart.yaml beside a plain transformers Trainer
on the same model (same seed, same trained tokenizer), the same blocks and transformers' masking collator.

    python benchmarks/text_mlm.py [--steps N] [--repeats R]

Both variants are timed around Trainer.train (the training loop only: no tokenizer training, saving or
evaluation), in wall seconds and in this process's CPU seconds (less sensitive to other jobs on a shared
machine; run with OMP_NUM_THREADS=1 so CPU seconds are work, not spinning threads), alternated A/B/A/B in one
process so machine load hits both alike; medians printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

from plait.config import load_experiment
from plait.models.family import BuildOptions
from plait.models.registry import get_family
from plait.pipeline import prepare_data, run_experiment
from plait.runs.atomic import read_jsonl
from plait.train.seed import seed_everything

ROOT = Path(__file__).resolve().parent.parent
CPU: list[float] = []
"""CPU seconds of each Trainer.train call, in call order."""


def _timed_train(original):
    def train(self, *args, **kwargs):
        start = time.process_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            CPU.append(time.process_time() - start)

    return train


Trainer.train = _timed_train(Trainer.train)  # PlaitTrainer inherits it, so both variants are timed alike


def _experiment(steps: int, output: Path):
    return load_experiment(str(ROOT / "experiments" / "text-quickstart.yaml"),
                           [f"train.max_steps={steps}", "eval.splits=[]", f"output_dir={output}", "train.log_every=1000"])


def plait_seconds(steps: int, output: Path) -> float:
    """train_runtime of `plait run` (the Trainer plait assembles, with plait's callbacks)."""
    run = run_experiment(_experiment(steps, output), progress=False)
    summary = [r for r in read_jsonl(run.metrics) if r.get("split") == "train_summary"]
    return float(summary[-1]["train_runtime"])


def plain_seconds(steps: int, output: Path) -> tuple[float, float]:
    """train_runtime of a plain Trainer on the same model and blocks; and the mean tokens per block."""
    exp = _experiment(steps, output)
    data = prepare_data(exp, dry_run=False)
    seed_everything(exp.seed)
    built = get_family("text").build(exp.model, data.splits["train"], BuildOptions())
    rows = [{"input_ids": built.processor.encode_train(s)["input_ids"]} for s in data.splits["train"]]
    t = exp.train
    args = TrainingArguments(output_dir=str(output / "plain"), per_device_train_batch_size=t.batch_size,
                             max_steps=steps, learning_rate=t.lr, weight_decay=t.weight_decay, warmup_steps=30,
                             lr_scheduler_type="linear", logging_steps=1000, save_strategy="no", report_to="none",
                             disable_tqdm=True, seed=exp.seed, use_cpu=not torch.cuda.is_available())
    collator = DataCollatorForLanguageModeling(built.processor.tokenizer, mlm_probability=0.15)
    trainer = Trainer(model=built.model, args=args, train_dataset=rows, data_collator=collator)
    runtime = float(trainer.train().metrics["train_runtime"])
    return runtime, statistics.fmean(len(r["input_ids"]) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per run (default 60)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per variant, alternated (default 2)")
    args = parser.parse_args()
    exp = _experiment(args.steps, Path("."))
    ours, theirs, per_block = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            ours.append(plait_seconds(args.steps, Path(tmp) / f"plait{i}"))
            seconds, per_block = plain_seconds(args.steps, Path(tmp) / f"plain{i}")
            theirs.append(seconds)
    tokens = args.steps * exp.train.batch_size * per_block
    a, b = tokens / statistics.median(ours), tokens / statistics.median(theirs)
    cpu_ours, cpu_theirs = CPU[0::2], CPU[1::2]
    cpu_a, cpu_b = tokens / statistics.median(cpu_ours), tokens / statistics.median(cpu_theirs)
    print(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "steps": args.steps, "batch": exp.train.batch_size,
                      "tokens_per_block": round(per_block, 1), "plait_s": ours, "trainer_s": theirs,
                      "plait_tokens_per_s": round(a), "trainer_tokens_per_s": round(b), "ratio": round(a / b, 3),
                      "plait_cpu_s": [round(x, 2) for x in cpu_ours], "trainer_cpu_s": [round(x, 2) for x in cpu_theirs],
                      "plait_tokens_per_cpu_s": round(cpu_a), "trainer_tokens_per_cpu_s": round(cpu_b),
                      "cpu_ratio": round(cpu_a / cpu_b, 3),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
