"""Watches a training loop from outside: step boundaries, what each batch held, peak memory.

The same probe times plait's Trainer and a hand-written loop, through hooks neither knows about: a
step begins at the model's first forward call after the previous optimizer step and ends when the
optimizer has stepped. What falls between two steps (loading and collating data, moving it to the
device, the loop's own bookkeeping) is the step's wait.
"""

from __future__ import annotations

import re
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook


def cuda_sync() -> None:
    """Wait for queued GPU work, so host timestamps include it (nothing to wait for on CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak_memory() -> None:
    """Start a new peak: the GPU allocator's on CUDA, the process's resident set (VmHWM) on Linux."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak then covers the whole process so far


def peak_memory_mib() -> dict[str, float]:
    """Peak memory since the last reset: process resident set, and GPU memory allocated on CUDA."""
    try:
        status = Path("/proc/self/status").read_text()
        rss_kib = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    except (OSError, AttributeError):
        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"peak_rss_mib": round(rss_kib / 1024, 1)}
    if torch.cuda.is_available():
        out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


@dataclass
class BatchRecord:
    """What one forward call was given (tensors are read only when the run is over, to add no syncs)."""

    step: int
    tokens: Any
    padded_tokens: int
    samples: Any
    images: int
    targets: Any = 0
    """Label positions that are scored (labels other than -100); 0 without labels."""


def describe_batch(step: int, inputs: dict[str, Any]) -> BatchRecord:
    """Tokens (image tokens included, padding not), padded slots, sequences, images and scored targets of a batch.

    A batch without `input_ids` (an encoder-decoder fed embeddings, as the mapper family's) is counted by its
    decoder side: `decoder_input_ids` and `decoder_attention_mask`."""
    if "input_ids" in inputs:
        ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    else:
        ids, mask = inputs["decoder_input_ids"], inputs.get("decoder_attention_mask")
    positions = inputs.get("position_ids")
    if positions is not None and mask is None and ids.shape[0] == 1:
        samples: Any = (positions == 0).sum()  # a padding-free row: every sequence starts at position 0
    else:
        samples = ids.shape[0]
    images = next((v.shape[0] for k in ("pixel_values", "vision_features") if (v := inputs.get(k)) is not None), 0)
    labels = inputs.get("labels")
    targets = (labels != -100).sum() if labels is not None else 0
    return BatchRecord(step, mask.sum() if mask is not None else ids.numel(), ids.numel(), samples, images, targets)


@dataclass
class Probe:
    """Timestamps and batch records of one training run of `model`; use as a context manager."""

    model: torch.nn.Module
    sync: bool = True
    """Synchronise the GPU at step boundaries, so compute and wait are split truly (no effect on CPU)."""
    begins: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    cpu_ends: list[float] = field(default_factory=list)
    batches: list[BatchRecord] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> "Probe":
        self._in_step = False
        reset_peak_memory()
        self._hooks = [
            self.model.register_forward_pre_hook(self._on_forward, with_kwargs=True),
            register_optimizer_step_post_hook(self._on_step),
        ]
        return self

    def __exit__(self, *exc: Any) -> None:
        for hook in self._hooks:
            hook.remove()
        cuda_sync()
        self.memory = peak_memory_mib()

    def _on_forward(self, module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        if not module.training:
            return
        if not self._in_step:
            if self.sync:
                cuda_sync()
            self.begins.append(time.perf_counter())
            self._in_step = True
        self.batches.append(describe_batch(len(self.ends), kwargs))

    def _on_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict[str, Any]) -> None:
        if not self._in_step:
            return
        if self.sync:
            cuda_sync()
        self.ends.append(time.perf_counter())
        self.cpu_ends.append(time.process_time())
        self._in_step = False

    def summary(self, warmup: int) -> dict[str, float]:
        """Figures over the steps after the first `warmup` (which include start-up costs)."""
        n = len(self.ends)
        if not 1 <= warmup < n:
            raise ValueError(f"warmup must be between 1 and the number of steps - 1 ({n - 1}); it is {warmup}")
        seconds = self.ends[-1] - self.ends[warmup - 1]
        window = [b for b in self.batches if b.step >= warmup]
        tokens = sum(int(b.tokens) for b in window)
        targets = sum(int(b.targets) for b in window)
        padded = sum(b.padded_tokens for b in window)
        return {
            "steps": n - warmup,
            "seconds": seconds,
            "step_ms": 1000 * statistics.median(self.ends[i] - self.ends[i - 1] for i in range(warmup, n)),
            "compute_ms": 1000 * statistics.median(self.ends[i] - self.begins[i] for i in range(warmup, n)),
            "wait_ms": 1000 * statistics.median(self.begins[i] - self.ends[i - 1] for i in range(warmup, n)),
            # CPU time of this process per step: the work done, whatever else competes for the cores
            "cpu_ms": 1000 * statistics.median(self.cpu_ends[i] - self.cpu_ends[i - 1] for i in range(warmup, n)),
            "samples_per_s": sum(int(b.samples) for b in window) / seconds,
            "tokens_per_s": tokens / seconds,
            "targets_per_s": targets / seconds,
            "padding": 1 - tokens / padded if padded else 0.0,
            "images_per_step": sum(b.images for b in window) / (n - warmup),
            **self.memory,
        }

    def epoch_seconds(self, steps_per_epoch: int) -> list[float]:
        """Wall time of each complete epoch after the first step (epoch 1 is timed from its first step's start)."""
        starts = [self.begins[0]] + [self.ends[k * steps_per_epoch - 1]
                                     for k in range(1, len(self.ends) // steps_per_epoch)]
        stops = [self.ends[(k + 1) * steps_per_epoch - 1] for k in range(len(starts))]
        return [stop - start for start, stop in zip(starts, stops)]
