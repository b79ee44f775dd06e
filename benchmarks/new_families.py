"""Training speed of the flamingo and git families beside the projector family on the same LM and encoder.

One process, one data set (built-in captions at 64 px), the same random ViT (64 px, 8 px patches: 65 tokens,
width 256, 4 layers, frozen) and the same OPT-shaped LM (width 256, 4 layers); GIT's own decoder is given the
same width, depth and heads. Variants alternate (interleave) so drifting load falls on all of them.
Tokens per CPU-second count text tokens only (caption + BOS/EOS, no image positions, no padding), so the figure means the
same for every family: the projector puts 65 image tokens in the LM's sequence, flamingo one `<image>` token
with 64 resampled latents cross-attended, GIT 65 image tokens before the text.
"""

from __future__ import annotations

import copy
from typing import Any

from benchmarks.common import median_of, threads_flag
from plait.bench.report import section, table
from plait.config.schema import Experiment
from plait.pipeline import prepare_data

VIT = {"model_type": "vit", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 8,
       "intermediate_size": 1024, "image_size": 64, "patch_size": 8}
OPT = {"model_type": "opt", "hidden_size": 256, "ffn_dim": 1024, "num_hidden_layers": 4, "num_attention_heads": 8,
       "word_embed_proj_dim": 256, "max_position_embeddings": 256}
GIT = {"model_type": "git", "hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4,
       "num_attention_heads": 8, "max_position_embeddings": 256}
TOKENIZER = {"train": {"kind": "wordlevel", "vocab_size": 200}}
MODELS: dict[str, dict[str, Any]] = {
    "projector": {"family": "projector", "vision": {"config": VIT, "feature": "patch", "layer": -1, "freeze": True,
                                                   "cache_features": False},  # computed every step, as the others
                  "language": {"config": OPT}, "tokenizer": TOKENIZER, "placement": "between"},
    "flamingo (xattn every layer)": {
        "family": "flamingo", "vision": {"config": VIT, "freeze": True},
        "resampler": {"latents": 64, "depth": 2, "heads": 8, "head_dim": 32},
        "cross_attention": {"every": 1, "heads": 8}, "language": {"config": OPT}, "tokenizer": TOKENIZER},
    "flamingo (every 2nd, BabyLM)": {
        "family": "flamingo", "vision": {"config": VIT, "freeze": True},
        "resampler": {"latents": 64, "depth": 2, "heads": 8, "head_dim": 32},
        "cross_attention": {"every": 2, "heads": 8}, "language": {"config": OPT}, "tokenizer": TOKENIZER},
    "git": {"family": "git", "vision": {"config": VIT, "freeze": True}, "language": {"config": GIT},
            "tokenizer": TOKENIZER},
}


class NewFamilies:
    """Tokens/s of flamingo and git against the projector family, in one process."""

    name = "new-families"
    size = 160
    batch = 16

    def experiment(self, model: dict[str, Any]) -> Experiment:
        return Experiment.model_validate({
            "name": "bench-new-families", "seed": 0, "model": copy.deepcopy(model),
            "data": {"source": {"kind": "builtin_captions", "train_size": self.size, "validation_size": 0,
                                "test_size": 0, "image_size": 64}},
            "train": {"batch_size": self.batch, "lr": 1e-4, "log_every": 1}, "eval": {"splits": []}})

    def time_steps(self, name: str, data, exp: Experiment, steps: int) -> tuple[float, float]:
        """Median (wall ms, CPU ms) of one training step (forward, backward, AdamW) after 2 warm-up steps.

        Timed here rather than through plait.bench's probe, which hooks the parts a model names (vision,
        projector, language) and so costs the families differently."""
        import statistics
        import time

        import torch

        from plait.bench.harness import build
        from plait.train.loop import make_optimizer

        built = build(exp, data)
        optimizer = make_optimizer(built.model, exp.train)
        samples = data.splits["train"]
        batches = [built.processor.collate([built.processor.encode_train(s) for s in samples[i:i + self.batch]])
                   for i in range(0, len(samples) - self.batch + 1, self.batch)]
        walls, cpus = [], []
        for step in range(steps + 2):
            wall, cpu = time.perf_counter(), time.process_time()
            loss = built.model(**batches[step % len(batches)]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(built.model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step >= 2:
                walls.append(1000 * (time.perf_counter() - wall))
                cpus.append(1000 * (time.process_time() - cpu))
        return statistics.median(walls), statistics.median(cpus)

    def run(self, repeats: int) -> tuple[str, bool]:
        steps = 10
        prepared = {}
        for name, model in MODELS.items():
            exp = self.experiment(model)
            prepared[name] = (exp, prepare_data(exp, dry_run=False))
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in MODELS}
        for r in range(repeats):  # alternate the order, so drifting load falls on every family
            for name in (list(MODELS) if r % 2 == 0 else list(reversed(MODELS))):
                exp, data = prepared[name]
                timings[name].append(self.time_steps(name, data, exp, steps))
        samples = next(iter(prepared.values()))[1].splits["train"]
        words = sum(len(s.target.split()) + 2 for s in samples) / len(samples)  # word-level tokens + BOS/EOS
        rows = {name: {"step_ms": min(w for w, _ in t), "cpu_ms": min(c for _, c in t)} for name, t in timings.items()}
        # per CPU-second of this process: the work a step costs, whatever else shares the cores (wall-clock
        # figures on a loaded machine measure the load); the text tokens of a step are the same for every family
        per_step = self.batch * words
        base = rows["projector"]["cpu_ms"]
        extra = {name: {"text tokens per CPU-s": f"{per_step / (r['cpu_ms'] / 1000):.0f}",
                        "vs projector": f"{base / r['cpu_ms']:.2f}x"} for name, r in rows.items()}
        command = f"python -m benchmarks new-families --repeats {repeats}{threads_flag()}"
        notes = [f"mean caption: {words:.1f} text tokens; step = forward + backward + clip + AdamW on a fixed batch",
                 " ".join(__doc__.split("\n\n")[1].split())]
        text = section(f"Flamingo and GIT beside the projector family (median of {steps} steps of {self.batch} "
                       f"after 2 warm-up steps, best of {repeats} alternated runs)", command, table(rows, extra), notes)
        return text, True
