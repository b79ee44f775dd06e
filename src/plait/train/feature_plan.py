"""Whether a run trains on the frozen encoder's cached outputs: the fill's cost against what it saves.

With `model.vision.cache_features: auto` (and the cache safe) the run decides from its own numbers, after
the Trainer has put the model on its device and before any training sample is encoded:

- inputs: training samples with an image; missing: distinct inputs with no entry on disk (entries from
  earlier runs, sweeps or repeats cost nothing);
- a probe: up to PROBE_IMAGES of the missing inputs (cached ones when none is missing) are prepared,
  encoded, stored and read back, each stage timed, after an untimed one-input warm-up pass;
- fill cost = missing x the probe's seconds per input (prepare + encode + store);
- saving per epoch = inputs x (the probe's encoder seconds per input - its seconds to read an entry back).
  Under bf16 or fp16 the encoder's seconds are timed again inside the training step's autocast (the
  accelerator's), as the step would run it; the fill stays in full precision. The pixel preparation the
  cache also saves is left out, so the estimate leans towards no cache;
- epochs = optimizer steps x global batch / training samples, summed over the run's stages.

The cache is used when epochs x saving per epoch > fill cost; otherwise samples carry pixels and the model
runs its encoder. The probe's entries stay on disk either way (later runs find them). `true` always caches
(no probe), `false` never. The decision is written to status.json (`feature_cache`), logged as one event and
shown as one console line; a resumed run, and each later stage, applies the recorded decision, so resumes
stay bit-exact. Rank 0 decides for every rank of a distributed run.
"""

from __future__ import annotations

import time
from typing import Any, Callable, ContextManager

import torch

from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.family import Built
from plait.runs.ranks import world_size
from plait.runs.rundir import RunDir
from plait.runs.status import FeatureCacheRecord
from plait.train.progress import console

PROBE_IMAGES = 16
"""Inputs the timing probe encodes (fewer when the data has fewer)."""


def decide(inputs: int, missing: int, fill_s: float, saving_s_per_epoch: float,
           epochs: float) -> tuple[bool, str]:
    """Whether to cache: the expected saving over `epochs` against the fill's cost; and why, one line."""
    if inputs == 0:
        return False, "no training sample has an image"
    saving = saving_s_per_epoch * epochs
    run = f"{epochs:.3g} epoch{'' if epochs == 1 else 's'} of {inputs} images"
    if saving <= 0:
        return False, f"reading a stored entry is no cheaper than encoding its image ({run})"
    if missing == 0:
        return True, f"every training input is cached already; {run} save ~{saving:.2f} s of encoder time"
    if saving > fill_s:
        return True, f"{run} save ~{saving:.2f} s of encoder time, more than the ~{fill_s:.2f} s fill of {missing}"
    return False, f"{run} save ~{saving:.2f} s of encoder time, not more than the ~{fill_s:.2f} s fill of {missing}"


def plan_feature_cache(built: Built, samples: list[Sample], epochs: float, run: RunDir, main: bool,
                       stage: str | None = None, step: Callable[[], ContextManager[Any]] | None = None
                       ) -> FeatureCacheRecord | None:
    """Decide (or apply the recorded decision), record it, and fill the cache when on; the record in force.

    `epochs`: what the whole run trains. `main`: this process writes the run's records (rank 0). `step`: the
    training step's autocast under mixed precision (None: full precision).
    """
    processor = built.processor
    cache = processor.features
    if cache is None:
        off = built.info.get("feature_cache_off")
        if off and main and run.status().feature_cache is None:
            return _record(run, FeatureCacheRecord(decision="off", **off), stage)
        return None
    unsafe = cache.unsafe()  # the encoder is built frozen; a stage may train it
    if unsafe is not None:
        where = f"stage {stage} makes it unsafe" if stage else "it is not safe"
        if cache.setting == "true":
            raise UserError(f"model.vision.cache_features: true, but {where}: {unsafe}; "
                            "set model.vision.cache_features to auto or false")
        processor.features = None
        record = FeatureCacheRecord(decision="off", setting=cache.setting, reason=f"{where}: {unsafe}")
        if main and run.status().feature_cache is None:
            return _record(run, record, stage)
        _show(run if main else None, record, stage)
        return record
    started = time.perf_counter()
    fresh = [False]

    def decided() -> FeatureCacheRecord:
        recorded = run.status().feature_cache
        if recorded is not None:
            return recorded
        fresh[0] = True
        return measure(cache, samples, epochs, step)

    record = _from_rank_zero(decided)
    if main and fresh[0]:
        _record(run, record, stage)
    if record.decision == "off":
        processor.features = None
        return record
    fill_start = time.perf_counter()
    computed = processor.prepare_training(samples)
    if main:
        run.log({"step": 0, "split": "event", "event": "feature_cache", "computed": computed,
                 "seconds": round(time.perf_counter() - fill_start, 2), "folder": str(cache.folder)})
    if main and fresh[0]:
        record = record.model_copy(update={"fill_s_measured": round(time.perf_counter() - started, 3),
                                           "computed": (record.computed or 0) + computed})
        run.update_status(feature_cache=record.model_dump(exclude_none=True))
    return record


def measure(cache: Any, samples: list[Sample], epochs: float,
            step: Callable[[], ContextManager[Any]] | None = None) -> FeatureCacheRecord:
    """The decision from this run's numbers (see the module docstring); `true` skips the probe."""
    media = [s.media for s in samples if s.media is not None]
    missing = cache.missing(media)
    common = {"setting": cache.setting, "inputs": len(media), "missing": len(missing), "epochs": round(epochs, 3)}
    if cache.setting == "true":
        return FeatureCacheRecord(decision="on", reason="model.vision.cache_features: true", **common)
    if not media:
        return FeatureCacheRecord(decision="off", reason=decide(0, 0, 0.0, 0.0, epochs)[1], **common)
    distinct = {cache.entry(path): path for path in media}
    chosen = list(missing.values())[:PROBE_IMAGES] or list(distinct.values())[:PROBE_IMAGES]
    times = cache.probe(chosen, step)
    fill_s = len(missing) * times.fill_s_per_input()
    saving = len(media) * times.saving_s_per_input()
    on, reason = decide(len(media), len(missing), fill_s, saving, epochs)
    return FeatureCacheRecord(decision="on" if on else "off", reason=reason, probe_images=times.images,
                              fill_s_estimated=round(fill_s, 3), saving_s_per_epoch_estimated=round(saving, 3),
                              computed=times.stored, **common)


def _record(run: RunDir, record: FeatureCacheRecord, stage: str | None) -> FeatureCacheRecord:
    run.update_status(feature_cache=record.model_dump(exclude_none=True))
    _show(run, record, stage)
    return record


def _show(run: RunDir | None, record: FeatureCacheRecord, stage: str | None) -> None:
    """One event in metrics.jsonl and one console line (rank 0 only: `run` None elsewhere)."""
    if run is None:
        return
    run.log({"step": 0, "split": "event", "event": "feature_cache_decision", **({"stage": stage} if stage else {}),
             **record.model_dump(exclude_none=True)})
    console.print(f"feature cache: {record.decision}{f' (stage {stage})' if stage else ''}: {record.reason}",
                  highlight=False, soft_wrap=True)


def _from_rank_zero(make: Callable[[], FeatureCacheRecord]) -> FeatureCacheRecord:
    """`make()` on rank 0, given to every rank of a distributed run (so every rank trains alike)."""
    distributed = world_size() > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()
    if not distributed:
        return make()
    box: list[Any] = [make().model_dump() if torch.distributed.get_rank() == 0 else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return FeatureCacheRecord.model_validate(box[0])
