"""Non-finite training caught where it happens: a NaN/inf loss or gradient norm fails the run with the step,
the reason and the ids of the samples in the offending batch, or (train.skip_nonfinite) skips that batch.

The check costs one host sync per optimizer step (on CPU, none that can be measured: benchmarks/nonfinite.py):
each micro-batch's loss is tested on the device with `torch.isfinite`, and the flags are read once, beside
the gradient norm the Trainer computes anyway for clipping. A skipped batch sets every gradient to None
before the optimizer steps, so AdamW leaves those weights and their moments untouched (torch's optimizers
skip parameters without a gradient); the schedule still advances, as for a step that happened.

transformers' Trainer has `logging_nan_inf_filter`, which only hides a non-finite loss from the logs, and
accelerate skips steps only for fp16's loss scaler; neither stops or skips on its own, hence this module.
Under fp16 the scaler owns infinite gradients (it skips those steps itself), so only the loss is checked.
In a multi-process run every rank sees the same all-reduced gradient norm, so all ranks stop or skip together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch.utils.data import Dataset

from plait.errors import RunFailed

INDEX = "plait_sample_index"
"""Batch key carrying each row's position in the training samples (removed before the model sees the batch)."""


class NonFiniteTraining(RunFailed):
    """The run went non-finite; `record` is status.json's `nonfinite` entry."""

    def __init__(self, step: int, reason: str, samples: list[str]) -> None:
        self.record = {"step": step, "reason": reason, "samples": samples}
        shown = ", ".join(samples[:8]) + (f" and {len(samples) - 8} more" if len(samples) > 8 else "")
        super().__init__(f"non-finite {reason} at step {step} (batch: {shown or 'unknown'}); lower train.lr, "
                         "check those samples, or set train.skip_nonfinite: true to skip such batches")


class IndexedDataset(Dataset):
    """A dataset whose items also carry their index, so a bad batch can be named; with `where`, what it gives for
    the index (a data mix's index tuples: the positions of their samples in the training list, see mix_positions)."""

    def __init__(self, dataset: Dataset, where: Callable[[Any], Any] | None = None) -> None:
        self.dataset = dataset
        self.where = where if where is not None else _same

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: Any) -> dict[str, Any]:
        return {**self.dataset[index], INDEX: self.where(index)}

    def __getitems__(self, indices: list[Any]) -> list[dict[str, Any]]:
        """A batch's items, fetched through the wrapped dataset's own `__getitems__` when it has one (as
        torch.utils.data.Subset does), so the DataLoader's batched fetch reaches it."""
        fetch = getattr(self.dataset, "__getitems__", None)
        items = fetch(indices) if callable(fetch) else [self.dataset[i] for i in indices]
        return [{**item, INDEX: self.where(index)} for item, index in zip(items, indices)]


def _same(index: Any) -> Any:
    return index


@dataclass(frozen=True)
class mix_positions:  # noqa: N801 (a function to its callers; a class so that spawned data-loader workers can pickle it)
    """A data mix's index tuple -> its samples' positions in the training list (`positions`: each source's, in
    order): a ratio item (source, i) one sample, a paired item (i_1, ..., i_k) one of each source."""

    mode: str
    positions: list[list[int]]

    def __call__(self, index: tuple[int, ...]) -> list[int]:
        if self.mode == "paired":
            return [self.positions[j][i] for j, i in enumerate(index)]
        return [self.positions[index[0]][index[1]]]


class IndexedCollator:
    """Collates with `collate` and adds the rows' indices as a tensor under INDEX (a row with several samples,
    a paired mix's, adds all of them, row by row)."""

    def __init__(self, collate: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> None:
        self.collate = collate

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        indices = [f[INDEX] for f in features]
        batch = self.collate([{k: v for k, v in f.items() if k != INDEX} for f in features])
        batch[INDEX] = torch.tensor(indices, dtype=torch.long).flatten()
        return batch


class NonFiniteGuard:
    """Watches one optimizer step's micro-batches; at the gradient clip decides: go on, skip, or fail."""

    def __init__(self, sample_ids: list[str], skip: bool, check_grad: bool,
                 on_skip: Callable[[int, str, list[str]], None]) -> None:
        self.sample_ids = sample_ids
        self.skip = skip
        self.check_grad = check_grad
        self.on_skip = on_skip
        self.losses: list[torch.Tensor] = []
        self.indices: list[torch.Tensor | None] = []

    def seen(self, indices: torch.Tensor | None, loss: torch.Tensor) -> torch.Tensor:
        """Record a micro-batch; the loss to accumulate for logging (0 for a non-finite one when skipping)."""
        loss = loss.detach()
        self.losses.append(loss)
        self.indices.append(indices)
        return torch.where(torch.isfinite(loss), loss, torch.zeros_like(loss)) if self.skip else loss

    def step(self, step: int, grad_norm: Any) -> bool:
        """At the clip of optimizer step `step`: True to skip it; NonFiniteTraining to fail; False to go on."""
        losses, indices = self.losses, self.indices
        self.losses, self.indices = [], []
        finite = torch.isfinite(torch.stack(losses)) if losses else torch.ones(1, dtype=torch.bool)
        norm_ok = torch.isfinite(grad_norm) if self.check_grad and isinstance(grad_norm, torch.Tensor) else True
        if bool(finite.all() & norm_ok):  # the one host sync per step
            return False
        flags = finite.tolist()
        culprits = [i for ok, i in zip(flags, indices) if not ok] if not all(flags) else indices
        samples = [self.sample_ids[k] for part in culprits if part is not None for k in part.tolist()]
        if not all(flags):
            reason = f"loss ({float(losses[flags.index(False)])})"
        else:
            reason = f"gradient norm ({float(grad_norm)})"
        if not self.skip:
            raise NonFiniteTraining(step, reason, samples)
        self.on_skip(step, reason, samples)
        return True


def record_skip(run: Any, step: int, reason: str, samples: list[str]) -> None:
    """Log a skipped batch to metrics.jsonl and count it in status.json (a RunDir; a follower rank writes nothing)."""
    run.log({"step": step, "split": "event", "event": "nonfinite_skipped", "reason": reason, "samples": samples})
    run.update_status(nonfinite_skipped=run.status().nonfinite_skipped + 1)
