"""The frozen-encoder feature cache: the second epoch with it beside the same epoch recomputing the encoder."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from benchmarks.common import experiment, max_loss_gap, median_of, private_cache, threads_flag
from plait.bench.harness import finish, interleave, run_plait, timed_experiment
from plait.bench.report import section, table
from plait.pipeline import prepare_data


class FeatureCache:
    """A random CLIP at 64 px (frozen) + a tiny Llama, two epochs, cache on and off, alternated."""

    name = "feature-cache"
    spec = "benchmarks/configs/frozen_clip.yaml"

    def run(self, repeats: int) -> tuple[str, bool]:
        base = experiment(self.spec)
        per_epoch = math.ceil(base.data.source.train_size / base.train.batch_size)
        steps = 2 * per_epoch
        variants = {}
        epochs: dict[str, list[list[float]]] = {"cache": [], "no cache": []}
        with private_cache(), tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
            for name, setting in (("cache", "true"), ("no cache", "false")):
                exp = timed_experiment(experiment(self.spec, f"model.vision.cache_features={setting}"), steps)
                data = prepare_data(exp, dry_run=False)

                def one(exp=exp, data=data, name=name):
                    timing = run_plait(exp, data, Path(tmp))
                    epochs[name].append(timing.probe.epoch_seconds(per_epoch))
                    return finish(timing, exp, warmup=per_epoch)
                variants[name] = one
            runs = interleave(variants, repeats)
        second = {name: sorted(e[1] for e in epochs[name])[len(epochs[name]) // 2] for name in epochs}
        speedup = second["no cache"] / second["cache"]
        losses = {name: next(t.losses for n, t in runs if n == name) for name in variants}
        gap = max_loss_gap(losses["cache"], losses["no cache"])
        fills = [t.extra["feature_cache"] for n, t in runs if n == "cache"]
        rows = {name: {k: median_of(runs, name, k) for k in ("step_ms", "compute_ms", "wait_ms", "samples_per_s",
                                                                "cpu_ms", "tokens_per_s", "peak_rss_mib")} for name in variants}
        extra = {name: {"epoch 2 s": f"{second[name]:.2f}"} for name in variants}
        extra["cache"]["epoch 2 speed-up"] = f"{speedup:.2f}x"
        notes = [
            f"encoder: random CLIP vision model, 64x64 px, 8 px patches (65 tokens), 6 layers, width 256, frozen; "
            f"language: 2-layer Llama, width 64; {base.data.source.train_size} shapes images, batch "
            f"{base.train.batch_size}, {per_epoch} steps per epoch; step figures are over epoch 2",
            f"epoch-2 seconds, median of {repeats}: cache {second['cache']:.2f}, recomputing {second['no cache']:.2f}: "
            f"**{speedup:.2f}x** faster (must show >= 3x: {'yes' if speedup >= 3 else 'NO'})",
            f"training loss per step, cache vs recomputing, {len(losses['cache'])} steps: largest difference {gap:.2e}"
            + (" (identical)" if gap == 0 else ""),
            "cache filled once before the first step of the first cached run (batched encoder pass: "
            f"{fills[0].get('computed')} images in {fills[0].get('seconds')} s); later runs found every entry "
            f"(computed: {[f.get('computed') for f in fills[1:]]})",
        ]
        return section("Frozen-encoder feature cache: epoch 2 with and without", 
                       f"python -m benchmarks feature-cache --repeats {repeats}" + threads_flag(), table(rows, extra), notes), \
            speedup >= 3 and gap < 1e-5
