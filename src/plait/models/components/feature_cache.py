"""Frozen-encoder outputs on disk: computed once, memory-mapped after, keyed by content.

An entry's address is the hash of everything that decides its value: the encoder's weights and config,
the feature settings (layer, pooled/patch, drop_cls), the input preprocessing, and the input file's
bytes. A renamed file hits its entry; an edited file, a retrained encoder or another layer misses it.
Entries are single .npy files written atomically, so sweeps and repeats share them safely.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable

import numpy as np
import torch
from torch import nn

FORMAT = 1
"""Bumped when the stored layout changes, so old entries are never misread."""


def encoder_fingerprint(module: nn.Module, settings: dict[str, Any]) -> str:
    """sha256 of the module's weights (names, dtypes, shapes, bytes) and the settings that shape its outputs."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, **settings}, sort_keys=True, default=str).encode())
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(memoryview(flat.view(torch.uint8).numpy()))  # bf16 has no numpy dtype; its bytes do
    return digest.hexdigest()


_content_keys: dict[tuple[str, int, int], str] = {}


def content_key(path: Path) -> str:
    """sha256 of the file's bytes (remembered per path, size and mtime within the process)."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _content_keys:
        _content_keys[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _content_keys[memo]


def unsafe_reason(encoder: nn.Module) -> str | None:
    """Why cached outputs could differ from recomputed ones during training, or None when they cannot."""
    if any(p.requires_grad for p in encoder.parameters()):
        return "the encoder has trainable weights (it is not frozen, or has a LoRA adapter)"
    for name, module in encoder.named_modules():
        if isinstance(module, nn.Dropout) and module.p > 0:
            return f"the encoder has dropout ({name}, p={module.p}), so its training outputs are random"
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return f"the encoder has batch norm ({name}), whose statistics change in training mode"
    config = getattr(encoder, "config", None)
    for key, value in (config.to_dict().items() if config is not None else ()):
        if ("dropout" in key or "drop_path" in key) and isinstance(value, (int, float)) and value > 0:
            return f"the encoder's config sets {key}={value}, so its training outputs are random"
    return None


@dataclass(frozen=True)
class ProbeTimes:
    """Seconds one probe batch took at each stage of filling and reading the cache."""

    images: int
    """Inputs in the batch."""
    stored: int
    """Of them, those that had no entry and were stored."""
    prepare_s: float
    """Loading and preprocessing them (`prepare`)."""
    encode_s: float
    """The encoder's pass over them (`encode`, device synchronised)."""
    store_s: float
    """Writing the new entries."""
    load_s: float
    """Reading every entry of the batch back, as a training sample does."""
    step_encode_s: float | None = None
    """The encoder's pass over them as a training step runs it (under the step's autocast), when that differs
    from the fill's pass; None: the same pass."""

    def fill_s_per_input(self) -> float:
        """What filling one missing entry costs: prepare, encode, store."""
        return (self.prepare_s + self.encode_s) / self.images + self.store_s / max(self.stored, 1)

    def saving_s_per_input(self) -> float:
        """What a cached input saves a training step: the encoder's pass over it as the step runs it, less
        reading its entry."""
        step = self.encode_s if self.step_encode_s is None else self.step_encode_s
        return (step - self.load_s) / self.images


class FeatureCache:
    """Encoder outputs per input file, in `folder`; misses are computed with `encode(prepare(paths))` and stored.

    `setting` is how the run asked for the cache (auto: the run weighs fill cost against saving; true: always);
    `unsafe()` says why cached outputs could now differ from recomputed ones (e.g. a stage trains the encoder).
    """

    def __init__(self, folder: Path, encode: Callable[[Any], torch.Tensor], batch_size: int = 32,
                 prepare: Callable[[list[Path]], Any] | None = None, setting: str = "true",
                 unsafe: Callable[[], str | None] | None = None) -> None:
        self.folder = Path(folder)
        self.encode = encode
        self.batch_size = batch_size
        self.prepare = prepare or (lambda paths: paths)
        self.setting = setting
        self.unsafe = unsafe or (lambda: None)

    def entry(self, media: Path) -> Path:
        """Where the outputs for `media` live (whether or not they exist yet)."""
        key = content_key(media)
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, media: Path) -> torch.Tensor:
        """The stored outputs for `media`, computed first on a miss."""
        entry = self.entry(media)
        if not entry.exists():
            self._store([media], [entry])
        # copied out of the map: the collator stacks a batch into one tensor anyway
        return torch.from_numpy(np.array(np.load(entry, mmap_mode="r", allow_pickle=False)))

    def missing(self, media: Iterable[Path]) -> dict[Path, Path]:
        """{entry: input} of the distinct inputs with no entry on disk (identical files share one)."""
        missing: dict[Path, Path] = {}
        for path in media:
            entry = self.entry(path)
            if not entry.exists():
                missing.setdefault(entry, path)
        return missing

    def fill(self, media: Iterable[Path]) -> int:
        """Compute and store, in batches, the outputs of every input not cached yet; return how many."""
        missing = self.missing(media)
        entries = list(missing)
        for start in range(0, len(entries), self.batch_size):
            chunk = entries[start:start + self.batch_size]
            self._store([missing[e] for e in chunk], chunk)
        return len(entries)

    def probe(self, media: list[Path], step: Callable[[], ContextManager[Any]] | None = None) -> ProbeTimes:
        """Time one batch of `media` through prepare, encode, store (entries missing only) and load.

        A one-input pass runs first, untimed: the first call of an encoder pays one-off set-up (kernel
        selection, allocator growth, lazy initialisation) that later batches do not. With `step` (the training
        step's autocast, under bf16 or fp16), the encoder's pass is timed once more inside it, after its own
        untimed warm-up: what the cache saves a step is that pass, which the fill's full-precision pass can
        take several times as long on a GPU.
        """
        _synchronize(self.encode(self.prepare(media[:1])))
        start = time.perf_counter()
        inputs = self.prepare(media)
        prepared = time.perf_counter()
        outputs = _synchronize(self.encode(inputs))
        encoded = time.perf_counter()
        new = [(entry, output) for path, output in zip(media, outputs) if not (entry := self.entry(path)).exists()]
        for entry, output in new:
            self._write(entry, output)
        stored = time.perf_counter()
        for path in media:
            self.get(path)
        loaded = time.perf_counter()
        step_encode_s = None
        if step is not None:
            with step():
                _synchronize(self.encode(self.prepare(media[:1])))
                begin = time.perf_counter()
                _synchronize(self.encode(inputs))
                step_encode_s = time.perf_counter() - begin
        return ProbeTimes(len(media), len(new), prepared - start, encoded - prepared, stored - encoded,
                          loaded - stored, step_encode_s)

    def _store(self, media: list[Path], entries: list[Path]) -> None:
        outputs = self.encode(self.prepare(media))
        for entry, output in zip(entries, outputs):
            self._write(entry, output)

    def _write(self, entry: Path, output: torch.Tensor) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=f".{entry.stem}.", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, output.detach().float().cpu().numpy(), allow_pickle=False)
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _synchronize(outputs: torch.Tensor) -> torch.Tensor:
    """`outputs` once the device has computed them (host clocks then include the work)."""
    if outputs.is_cuda:
        torch.cuda.synchronize(outputs.device)
    return outputs
