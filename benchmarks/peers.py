"""plait beside the tools a user would pick instead: a plain transformers Trainer and TRL's SFTTrainer.

The same model (the quickstart's, built by plait under its seed and exported as a LlavaForConditionalGeneration)
trains on the same samples (plait's encoded quickstart data: answer-only labels) with the same batch, learning
rate, schedule and steps. Each side runs in a fresh process (so its imports and peak memory are its own), the
sides alternate over several rounds, and the figures are medians with their spread:

    python -m benchmarks.peers --rounds 3 --steps 300 [--append]
    python -m benchmarks.peers --family mapper --rounds 2 --steps 150 [--append]   # vs a plain Seq2SeqTrainer

`--family mapper` trains the signs quickstart's mapper model (benchmarks/peers_mapper.py says how the peer is made).

Steady steps are timed by plait's Probe (hooks on the model's forward and the optimizer step, which no side
knows about), after `--warmup` steps. The peers get the data the way a `datasets.map` user has it: encoded once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIDES = ("plait", "trainer", "trl")
PEERS = {"trainer": "Trainer", "trl": "TRL SFTTrainer"}
TITLE = "plait beside a plain transformers Trainer and TRL's SFTTrainer (quickstart model)"
ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = ["train.batch_size=16", "train.eval_every=-1", "train.save_every=-1", "train.log_every=50",
             "eval.splits=[]"]


def experiment(steps: int):
    from benchmarks.common import experiment as load

    return load("experiments/quickstart.yaml", *OVERRIDES, f"train.max_steps={steps}")


def prepare(steps: int, folder: Path) -> Path:
    """The quickstart model as built (untrained), saved by plait and exported to a Llava folder."""
    from plait.bench.harness import build
    from plait.models.projector.export import export_model
    from plait.models.registry import get_family
    from plait.pipeline import prepare_data

    exp = experiment(steps)
    built = build(exp, prepare_data(exp, dry_run=False))
    get_family("projector").save(built, exp.model, folder / "plait")
    record = export_model(folder / "plait", folder / "llava", merge=True)
    assert record["class"] == "LlavaForConditionalGeneration", record
    return folder / "llava"


def stored(rows: list[dict], arrays: dict[str, tuple]):
    """Encoded rows in a datasets.Dataset, typed as a datasets user declares them: id lists as int64 lists, the
    `arrays` as Array2D/Array3D columns of the given shape (a leading None: rows of different lengths), read back
    as torch tensors. Typed, a row's array comes back as one tensor; left to inference it is a list of lists and
    the torch formatter makes a tensor of every number first (20 ms more per batch of 16 quickstart images)."""
    from datasets import Array2D, Array3D, Dataset, Features, List, Value

    kinds = {2: Array2D, 3: Array3D}
    columns = Features({k: kinds[len(arrays[k])](arrays[k], "float32") if k in arrays else List(Value("int64"))
                        for k in rows[0]})
    return Dataset.from_list(rows, features=columns).with_format("torch", columns=list(arrays),
                                                                 output_all_columns=True)


def plait_side(exp, data, warmup: int) -> dict:
    """plait's side: `plait run`'s training assembly on `data`, under the probe; its figures and logged losses."""
    from plait.bench.harness import finish, run_plait

    with tempfile.TemporaryDirectory() as tmp:
        timing = finish(run_plait(exp, data, Path(tmp)), exp, warmup)
    return {**timing.figures, "losses": timing.losses}


def side(name: str, steps: int, warmup: int, llava: Path) -> dict:
    """Train one side in this process; its figures."""
    import torch

    from plait.bench.harness import build
    from plait.bench.probe import Probe
    from plait.pipeline import prepare_data

    exp = experiment(steps)
    data = prepare_data(exp, dry_run=False)
    if name == "plait":
        return plait_side(exp, data, warmup)
    from transformers import DataCollatorForSeq2Seq, LlavaForConditionalGeneration, Trainer, TrainingArguments

    processor = build(exp, data).processor  # the same token ids and pixels plait trains on, encoded once
    rows = [processor.encode_train(s) for s in data.splits["train"]]
    rows = stored([{"input_ids": r["input_ids"], "labels": r["labels"], "pixel_values": r["pixel_values"].numpy()}
                   for r in rows], {"pixel_values": tuple(rows[0]["pixel_values"].shape)})
    model = LlavaForConditionalGeneration.from_pretrained(llava)
    cfg = exp.train
    common = dict(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=cfg.batch_size, max_steps=steps,
                  learning_rate=cfg.lr, lr_scheduler_type="cosine", warmup_steps=cfg.schedule.warmup_steps,
                  max_grad_norm=cfg.max_grad_norm, logging_steps=exp.train.log_every, logging_first_step=True,
                  save_strategy="no", report_to="none",
                  seed=exp.seed, use_cpu=not torch.cuda.is_available(), disable_tqdm=True,
                  remove_unused_columns=False, dataloader_num_workers=cfg.num_workers)
    text = DataCollatorForSeq2Seq(processor.tokenizer, label_pad_token_id=-100, return_tensors="pt")

    def collate(batch: list[dict]) -> dict:  # the few lines a user adds: the tokenizer pads text, not pixels
        out = text([{k: v for k, v in b.items() if k != "pixel_values"} for b in batch])
        return {**out, "pixel_values": torch.stack([b["pixel_values"] for b in batch])}

    if name == "trainer":
        trainer = Trainer(model=model, args=TrainingArguments(**common), train_dataset=rows, data_collator=collate)
    else:
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(**common, dataset_kwargs={"skip_prepare_dataset": True}, max_length=None)
        trainer = SFTTrainer(model=model, args=args, train_dataset=rows, data_collator=collate,
                             processing_class=processor.tokenizer)
    with Probe(model) as probe:
        trainer.train()
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    return {**probe.summary(warmup), "losses": losses}


def curve(losses: list[float]) -> str:
    return f"{losses[0]:.4f} / {losses[-1]:.4f}" if losses else "-"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def family(name: str):
    """The module with a family's sides: SIDES (plait first), PEERS (their labels), TITLE, prepare, side."""
    if name == "projector":
        return sys.modules[__name__]
    from benchmarks import peers_mapper

    return peers_mapper


def loss_gaps(runs: dict[str, list[dict]], peer: str) -> str:
    """Largest difference between plait's logged losses and the peer's, over the rounds (they log the same steps)."""
    from benchmarks.common import max_loss_gap

    try:
        gaps = [max_loss_gap(p["losses"], q["losses"]) for p, q in zip(runs["plait"], runs[peer])]
    except ValueError as err:
        return str(err)
    return f"{max(gaps):.2g}"


def report(runs: dict[str, list[dict]], fam, args: argparse.Namespace) -> str:
    """Ratios to each peer, absolute medians, and how the loss curves compare, as a RESULTS.md section."""
    from plait.bench.report import section

    peers = list(fam.PEERS)
    rows = ["| measure | " + " | ".join(f"plait / {fam.PEERS[p]}" for p in peers) + " |",
            "|---|" + "---|" * len(peers)]
    for label, key in (("steady step time", "step_ms"), ("steady step CPU time (this process)", "cpu_ms"),
                       ("whole process wall time", "process_s"), ("peak RSS", "peak_rss_mib")):
        cells = [spread([p[key] / q[key] for p, q in zip(runs["plait"], runs[peer])]) for peer in peers]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows.append("| largest logged-loss difference | " + " | ".join(loss_gaps(runs, p) for p in peers) + " |")
    keys = ("step_ms", "compute_ms", "wait_ms", "cpu_ms", "tokens_per_s", "targets_per_s", "process_s",
            "peak_rss_mib")
    absolute = ["| side | step ms | compute ms | data+loop ms | CPU ms | tokens/s (padding out) | target tokens/s "
                "| process s | peak RSS MiB | first / last logged loss |", "|---|" + "---|" * 9]
    for name in fam.SIDES:
        r = runs[name]
        med = {k: statistics.median(x[k] for x in r) for k in keys}
        absolute.append(f"| {name} | {med['step_ms']:.1f} | {med['compute_ms']:.1f} | {med['wait_ms']:.1f} | "
                        f"{med['cpu_ms']:.1f} | "
                        f"{med['tokens_per_s']:.0f} | {med['targets_per_s']:.0f} | {med['process_s']:.1f} | "
                        f"{med['peak_rss_mib']:.0f} | {curve(r[0]['losses'])} |")
    command = f"python -m benchmarks.peers --family {args.family} --rounds {args.rounds} --steps {args.steps} " \
              f"--warmup {args.warmup}" + (f" --threads {args.threads}" if args.threads else "")
    notes = [f"ratios per round (median, range) over {args.rounds} rounds, sides alternated, each in a fresh process; "
             f"step figures after the first {args.warmup} steps; losses logged at step 1 and every train.log_every"]
    extra = {k: v for k, v in runs[peers[0]][0].items() if k in ("optimizer", "same_decay_groups")}
    if extra:
        notes.append(f"peer run facts: {json.dumps(extra)}")
    return section(fam.TITLE, command, "\n".join(rows) + "\n\n" + "\n".join(absolute), notes, args.load_before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=("projector", "mapper"), default="projector",
                        help="projector: quickstart vs Trainer and TRL; mapper: signs quickstart vs Seq2SeqTrainer")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs every side once (default 3)")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per run (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="first steps left out of the step figures")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads of every side (default: torch's choice, one per core)")
    parser.add_argument("--append", action="store_true", help="append the section to benchmarks/RESULTS.md")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--shared", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    fam = family(args.family)
    if args.side:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print("PEERS " + json.dumps(fam.side(args.side, args.steps, args.warmup, args.shared)))
        return 0
    from plait.bench.report import append, load

    args.load_before = load()
    runs: dict[str, list[dict]] = {s: [] for s in fam.SIDES}
    n = len(fam.SIDES)
    with tempfile.TemporaryDirectory() as tmp:
        shared = fam.prepare(args.steps, Path(tmp))
        for r in range(args.rounds):
            for name in fam.SIDES[r % n:] + fam.SIDES[:r % n]:
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "benchmarks.peers", "--family", args.family, "--side",
                                       name, "--steps", str(args.steps), "--warmup", str(args.warmup), "--shared",
                                       str(shared), *(["--threads", str(args.threads)] if args.threads else [])], capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    raise SystemExit(f"side {name} failed:\n{done.stderr[-3000:]}")
                figures = json.loads(done.stdout.split("PEERS ", 1)[1])
                runs[name].append({**figures, "process_s": time.perf_counter() - start})
    text = report(runs, fam, args)
    print(text)
    if args.append:
        append(ROOT / "benchmarks" / "RESULTS.md", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
