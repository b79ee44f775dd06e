"""Training on several named sources at once.

paired (BabyLM 2024's multimodal baselines): every step takes one batch of each source and the loss is
sum_i weight_i * L_i, each L_i the mean over that batch's target tokens; an epoch is as long as the longest
source and shorter ones cycle. ratio: one batch whose samples are drawn from source i with probability
weight_i / sum(weights); an epoch is as many draws as all sources have samples.

The order of an epoch is drawn from (seed, epoch) alone, by the sampler (which accelerate tells the epoch),
so a resumed run draws what an uninterrupted one does. datasets.interleave_datasets samples by ratio too, but
over Hugging Face datasets, with its own notion of epochs; plait's sources are lists of samples.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from plait.core.trainer_imports import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from plait.data.config import DataConfig, MixConfig
from plait.data.dataset import EncodedDataset, KeepBudget
from plait.data.sample import Sample
from plait.runs import atomic

STATE_FILE = "mix_state.json"


def load_mix_splits(cfg: DataConfig, seed: int, image_token: str, max_samples: int | None) -> dict[str, list[Sample]]:
    """Every source's splits, each sample's meta['source'] set to its source's name, concatenated per split."""
    from plait.data.dataset import source_splits

    out: dict[str, list[Sample]] = {}
    for i, part in enumerate(cfg.mix.sources):
        listed = isinstance(part.source, list)
        for k, source in enumerate(part.source if listed else [part.source]):
            where = f"data.mix.sources[{i}].source" + (f"[{k}]" if listed else "")
            for split, samples in source_splits(source, cfg, seed, image_token, max_samples, where).items():
                prefix = f"{part.name}/{k}/" if listed else f"{part.name}/"
                out.setdefault(split, []).extend(dataclasses.replace(s, id=prefix + s.id, meta={**s.meta, "source": part.name})
                                                 for s in samples)
    return out


def by_source(samples: list[Sample], names: list[str]) -> dict[str, list[Sample]]:
    """Samples grouped by meta['source'], in `names` order."""
    groups: dict[str, list[Sample]] = {name: [] for name in names}
    for s in samples:
        groups[s.meta["source"]].append(s)
    return groups


def _cover(rng: np.random.Generator, size: int, length: int) -> np.ndarray:
    """`length` indices into a source of `size`: fresh permutations one after another, cut at `length`."""
    return np.concatenate([rng.permutation(size) for _ in range(math.ceil(length / size))])[:length]


class MixSampler(Sampler):
    """Yields index tuples: paired (i_1, ..., i_k), one sample of each source; ratio (source, i)."""

    def __init__(self, sizes: list[int], weights: list[float], mode: str, seed: int) -> None:
        self.sizes, self.mode, self.seed, self.epoch = sizes, mode, seed, 0
        self.shares = np.asarray(weights, dtype=float) / sum(weights)

    def set_epoch(self, epoch: int) -> None:
        """Called by accelerate's data loader at the start of each epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return max(self.sizes) if self.mode == "paired" else sum(self.sizes)

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.mode == "paired":
            orders = [_cover(rng, size, len(self)) for size in self.sizes]
            yield from (tuple(int(o[i]) for o in orders) for i in range(len(self)))
            return
        picks = rng.choice(len(self.sizes), size=len(self), p=self.shares)
        orders = [_cover(rng, size, max(1, int((picks == j).sum()))) for j, size in enumerate(self.sizes)]
        seen = [0] * len(self.sizes)
        for j in picks:
            yield int(j), int(orders[j][seen[j]])
            seen[j] += 1


class MixDataset(Dataset):
    """Encodes the samples a MixSampler's index tuple names: paired -> {source: encoded}; ratio -> encoded.

    Each source is an EncodedDataset, all sharing one budget of `keep_bytes` (train.keep_encoded_mb is for the
    whole mix, first come first kept). The DataLoader fetches a batch of index tuples through `__getitems__`,
    which encodes each source's part with one `encode_many` call, each item exactly what `encode` gives."""

    def __init__(self, groups: dict[str, list[Sample]], encode: Callable[[Sample], dict[str, Any]], mode: str,
                 keep_bytes: int = 0,
                 encode_many: Callable[[list[Sample]], list[dict[str, Any]]] | None = None) -> None:
        self.names, self.mode = list(groups), mode
        self.budget = KeepBudget(keep_bytes)
        self.sources = [EncodedDataset(group, encode, encode_many=encode_many, budget=self.budget)
                        for group in groups.values()]

    def __len__(self) -> int:
        sizes = [len(source) for source in self.sources]
        return max(sizes) if self.mode == "paired" else sum(sizes)

    def __getitem__(self, index: tuple[int, ...]) -> dict[str, Any]:
        if self.mode == "paired":
            return {name: source[i] for name, source, i in zip(self.names, self.sources, index)}
        source, i = index
        return self.sources[source][i]

    def __getitems__(self, indices: list[tuple[int, ...]]) -> list[dict[str, Any]]:
        """The items `__getitem__` gives for `indices`, in order, each source's through its own `__getitems__`."""
        if self.mode == "paired":
            parts = [source.__getitems__([index[j] for index in indices]) for j, source in enumerate(self.sources)]
            return [dict(zip(self.names, row)) for row in zip(*parts)]
        out: list[dict[str, Any]] = [{}] * len(indices)
        for j, source in enumerate(self.sources):
            rows = [r for r, index in enumerate(indices) if index[0] == j]
            if rows:
                for r, item in zip(rows, source.__getitems__([indices[r][1] for r in rows]), strict=True):
                    out[r] = item
        return out

    @property
    def kept_bytes(self) -> int:
        """Bytes the kept samples of every source hold."""
        return self.budget.used

    def encode_ahead(self, batch: int = 64, shown: Callable[[int], None] | None = None) -> int:
        """EncodedDataset.encode_ahead over every source, one batch of each in turn (so when the budget cannot
        hold them all, each source has some kept), a source done when it is all kept or its batch no longer
        fits; how many samples are kept in all. `shown` gets that count after each batch."""
        runs = [source.encoding_ahead(batch) for source in self.sources]
        while runs:
            for run in list(runs):
                if next(run, None) is None:
                    runs.remove(run)
                elif shown is not None:
                    shown(self.kept_count())
        return self.kept_count()

    def kept_count(self) -> int:
        """Samples kept, over every source."""
        return sum(len(source.kept) for source in self.sources)


class PairedCollator:
    """{source: the family's own batch of that source's samples}."""

    def __init__(self, collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]], names: list[str]) -> None:
        self.collate, self.names = collate, names

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, dict[str, torch.Tensor]]:
        return {name: self.collate([item[name] for item in items]) for name in self.names}


class PairedLoss(TrainerCallback):
    """loss = sum_i w_i * L_i over a paired batch; adds `loss_<name>` (mean since the last log) to the Trainer's logs
    and keeps those running sums in each checkpoint, so a resumed run logs what an uninterrupted one does."""

    def __init__(self, weights: dict[str, float], resume_from: Path | None = None) -> None:
        self.weights = weights
        self.resume_from = resume_from
        self.sums = {name: 0.0 for name in weights}
        self.count = 0

    def __call__(self, model: torch.nn.Module, inputs: dict[str, dict[str, torch.Tensor]]) -> torch.Tensor:
        losses = {name: model(**inputs[name]).loss for name in self.weights}
        if model.training:
            for name, loss in losses.items():
                self.sums[name] += float(loss.detach())
            self.count += 1
        return sum(self.weights[name] * loss for name, loss in losses.items())

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if logs is None or "loss" not in logs or not self.count:
            return
        logs.update({f"loss_{name}": round(total / self.count, 6) for name, total in self.sums.items()})
        self.sums, self.count = {name: 0.0 for name in self.weights}, 0

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            atomic.write_json(folder / STATE_FILE, {"sums": self.sums, "count": self.count})

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        saved = atomic.read_json(self.resume_from / STATE_FILE) if self.resume_from else None
        if saved:
            self.sums, self.count = dict(saved["sums"]), saved["count"]


@dataclasses.dataclass
class MixTraining:
    """What train() hands the Trainer for a mix: dataset, sampler, collator, and (paired) the loss."""

    dataset: MixDataset
    sampler: MixSampler
    collate: Callable[[list[dict[str, Any]]], Any]
    loss: PairedLoss | None
    positions: list[list[int]] = dataclasses.field(default_factory=list)
    """Each source's samples' positions in the training list, in the source's order (a bad batch is named by them)."""


def mix_training(mix: MixConfig, samples: list[Sample], processor: Any, seed: int,
                 resume_from: Path | None, keep_bytes: int = 0) -> MixTraining:
    """The pieces that train `samples` (tagged by load_mix_splits) as `mix` says; encoded samples are kept up to
    `keep_bytes` over all sources."""
    names = [s.name for s in mix.sources]
    groups = {name: group for name, group in by_source(samples, names).items()}
    empty = [name for name, group in groups.items() if not group]
    if empty:
        from plait.errors import UserError

        raise UserError(f"data.mix: source {empty[0]!r} has no usable training samples")
    weights = [s.weight for s in mix.sources]
    sampler = MixSampler([len(g) for g in groups.values()], weights, mix.mode, seed)
    dataset = MixDataset(groups, processor.encode_train, mix.mode, keep_bytes, processor.encode_train_many)
    positions = [[k for k, s in enumerate(samples) if s.meta["source"] == name] for name in names]
    if mix.mode == "ratio":
        return MixTraining(dataset, sampler, processor.collate, None, positions)
    return MixTraining(dataset, sampler, PairedCollator(processor.collate, names),
                       PairedLoss(dict(zip(names, weights)), resume_from), positions)
