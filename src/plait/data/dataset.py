"""Splits from a source, the data report, and the torch Dataset a family's processor feeds."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from torch.utils.data import Dataset

from plait.data.config import BuiltinSource, DataConfig, LlavaJsonSource, ManifestSource, SignsSource, TsvSource
from plait.data.builtin.captions import BuiltinCaptionsSource
from plait.data.sample import Sample
from plait.data.sources.cc3m import Cc3mSource
from plait.data.sources.localized_narratives import LocalizedNarrativesSource
from plait.data.sources.manifest import MISSING as UNUSABLE
from plait.data.sources.scienceqa import ScienceQASource, read_scienceqa
from plait.data.text_config import BuiltinGlueSource, BuiltinTextSource, HfSource, TextSource
from plait.errors import UserError

SPLITS = ("train", "validation", "test")


def _builtin(source: BuiltinSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.builtin.shapes import generate_shapes
    from plait.data.sources.manifest import read_manifest

    folder = generate_shapes(source.train_size, source.validation_size, source.test_size,
                             source.image_size, source.seed)
    prompt_field, target_field = ("question", "answer") if source.task == "qa" else ("id", "caption")
    splits = {}
    for split in SPLITS:
        samples = read_manifest(folder / f"{split}.jsonl", "id", "image", prompt_field, target_field)
        if source.task == "caption":
            samples = [Sample(id=s.id, prompt="describe the image.", target=s.target, media=s.media) for s in samples]
        splits[split] = samples
    return splits


def _manifest(source: ManifestSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.sources.manifest import read_manifest

    return {
        split: read_manifest(path, source.id_field, source.image_field, source.prompt_field, source.target_field)
        for split in SPLITS
        if (path := getattr(source, split)) is not None
    }


def _llava(source: LlavaJsonSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.sources.llava_json import read_llava_json

    return {
        split: read_llava_json(path, source.image_root, image_token)
        for split in SPLITS
        if (path := getattr(source, split)) is not None
    }


def _tsv(source: TsvSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.sources.tsv import read_tsv

    return {split: read_tsv(path) for split in SPLITS if (path := getattr(source, split)) is not None}


def _signs(source: SignsSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.builtin.signs import generate_signs
    from plait.data.sources.tsv import read_tsv

    folder = generate_signs(source.train_size, source.validation_size, source.test_size, source.vocab_size,
                            source.min_words, source.max_words, source.noise, source.seed)
    return {split: read_tsv(folder / f"{split}.tsv") for split in SPLITS}


def _text(source: TextSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.sources.text import read_text_split

    return {split: read_text_split(patterns, source.mode, source.block_size, source.encoding, f"data.source.{split}")
            for split in SPLITS if (patterns := getattr(source, split))}


def _hf(source: HfSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.sources.hf import read_hf

    return read_hf(source)


def _builtin_text(source: BuiltinTextSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.builtin.text_corpus import generate_corpus

    folder = generate_corpus(source.sentences, source.seed)
    return _text(TextSource(train=[str(folder / "*.train")], validation=[str(folder / "*.dev")], mode=source.mode,
                            block_size=source.block_size), image_token)


def _builtin_glue(source: BuiltinGlueSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.glue.tasks import builtin_source

    return _hf(builtin_source(source), image_token)


def _cc3m(source: Cc3mSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.sources.cc3m import read_cc3m_split

    return {split: read_cc3m_split(part, source.report_columns, source.prompt, source.clean, source.max_rows)
            for split in SPLITS if (part := getattr(source, split)) is not None}


def _narratives(source: LocalizedNarrativesSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.sources.localized_narratives import read_narratives

    return {split: read_narratives(part, source.naming, source.prompt, source.max_rows)
            for split in SPLITS if (part := getattr(source, split)) is not None}


def _builtin_captions(source: BuiltinCaptionsSource, image_token: str) -> dict[str, list[Sample]]:
    from plait.data.builtin.captions import read_builtin_captions

    return read_builtin_captions(source)


LOADERS: dict[type, Callable[[Any, str], dict[str, list[Sample]]]] = {
    BuiltinSource: _builtin,
    ManifestSource: _manifest,
    LlavaJsonSource: _llava,
    TsvSource: _tsv,
    SignsSource: _signs,
    TextSource: _text,
    HfSource: _hf,
    BuiltinTextSource: _builtin_text,
    BuiltinGlueSource: _builtin_glue,
    ScienceQASource: lambda source, image_token: read_scienceqa(source),
    Cc3mSource: _cc3m,
    LocalizedNarrativesSource: _narratives,
    BuiltinCaptionsSource: _builtin_captions,
}


def load_splits(cfg: DataConfig, seed: int, image_token: str = "<image>",
                max_samples: int | None = None) -> dict[str, list[Sample]]:
    """Samples per split, with `max_samples` applied and validation carved from train if asked."""
    if cfg.mix is not None:
        from plait.data.mix import load_mix_splits

        return load_mix_splits(cfg, seed, image_token, max_samples)
    return source_splits(cfg.source, cfg, seed, image_token, max_samples)


def source_splits(source: Any, cfg: DataConfig, seed: int, image_token: str, max_samples: int | None,
                  where: str = "data.source") -> dict[str, list[Sample]]:
    """One source's splits, with `max_samples` applied and validation carved from train if asked."""
    splits = LOADERS[type(source)](source, image_token)
    if "train" not in splits or not splits["train"]:
        raise UserError(f"{where}: the training split is empty")
    if "validation" not in splits and cfg.validation_from_train > 0:
        train = list(splits["train"])
        random.Random(seed).shuffle(train)
        cut = max(1, int(len(train) * cfg.validation_from_train))
        splits["validation"], splits["train"] = train[:cut], train[cut:]
    limits = [x for x in (cfg.max_samples, max_samples) if x is not None]
    if limits:
        limit = min(limits)
        splits = {name: samples[:limit] for name, samples in splits.items()}
    return splits


@dataclass
class SplitReport:
    """What happened to one split's samples."""

    total: int = 0
    kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)


def screen(
    splits: dict[str, list[Sample]], check: Callable[[Sample], str | None], max_bad_fraction: float,
    missing_hint: str = "",
) -> tuple[dict[str, list[Sample]], dict[str, SplitReport]]:
    """Drop samples `check` rejects (or their source marked unusable), counting reasons; refuse a split whose bad
    share passes the threshold (`missing_hint` says where paths are read from, when files are missing)."""
    kept_splits, reports = {}, {}
    for name, samples in splits.items():
        reasons: Counter[str] = Counter()
        report = SplitReport(total=len(samples))
        kept = []
        for sample in samples:
            reason = sample.meta.get(UNUSABLE) or check(sample)
            if reason is None:
                kept.append(sample)
                continue
            reasons[reason] += 1
            if len(report.examples) < 10:
                report.examples.append({"id": sample.id, "media": str(sample.media), "reason": reason})
        report.kept = len(kept)
        report.skipped = dict(sorted(reasons.items()))
        bad = report.total - report.kept
        if report.total and bad / report.total > max_bad_fraction:
            first = report.examples[0] if report.examples else {}
            shown = first.get("media") if first.get("media") not in (None, "None") else f"sample {first.get('id')}"
            hint = f"; {missing_hint}" if missing_hint and "missing file" in report.skipped else ""
            raise UserError(
                f"data ({name} split): {bad} of {report.total} samples unusable "
                f"({', '.join(f'{r}: {n}' for r, n in report.skipped.items())}; first: {shown}), "
                f"more than data.max_bad_fraction={max_bad_fraction}{hint}"
            )
        kept_splits[name], reports[name] = kept, report
    return kept_splits, reports


class EncodedDataset(Dataset):
    """Samples encoded on access by a family processor's `encode` function; with `keep_bytes`, each encoded
    sample is kept after its first use while the kept tensors fit in that many bytes, so later epochs skip
    tokenising and media processing (encoding is a pure function of the sample: nothing changes but time).
    In data-loader worker processes the kept samples live as long as the worker (one epoch).

    torch's DataLoader fetches a whole batch through `__getitems__`; the batch's samples not kept yet are then
    encoded together by `encode_many` when given (the processor's `encode_train_many`: one image-processor call
    per batch), which gives each sample exactly what `encode` would."""

    def __init__(self, samples: list[Sample], encode: Callable[[Sample], dict[str, Any]], keep_bytes: int = 0,
                 encode_many: Callable[[list[Sample]], list[dict[str, Any]]] | None = None,
                 budget: KeepBudget | None = None) -> None:
        """`budget`: one shared with other datasets (a data mix's sources), in place of its own of `keep_bytes`."""
        self.samples = samples
        self.encode = encode
        self.encode_many = encode_many
        self.budget = budget if budget is not None else KeepBudget(keep_bytes)
        self.keep_bytes = self.budget.limit
        self.kept: dict[int, dict[str, Any]] = {}
        self.kept_bytes = 0
        """Bytes this dataset's kept samples hold (with a shared budget, its part of `budget.used`)."""

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        found = self.kept.get(index)
        if found is not None:
            return found
        item = self.encode(self.samples[index])
        self._keep(index, item)
        return item

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        """The items `__getitem__` gives for `indices`, in order, with those not kept encoded in one call (and
        kept in the same order `__getitem__` would keep them)."""
        kept = self.kept
        missing = [i for i in indices if i not in kept]
        if not missing:  # every epoch after the first, when the budget holds them all
            return [kept[i] for i in indices]
        missing = list(dict.fromkeys(missing))
        batch = [self.samples[i] for i in missing]
        if self.encode_many is not None and batch:
            fresh = dict(zip(missing, self.encode_many(batch), strict=True))
        else:
            fresh = {i: self.encode(sample) for i, sample in zip(missing, batch)}
        for index in missing:
            self._keep(index, fresh[index])
        return [fresh[i] if i in fresh else kept[i] for i in indices]

    def encode_ahead(self, batch: int = 64, shown: Callable[[int], None] | None = None) -> int:
        """Encode and keep the samples in order, `batch` at a time, until every one is kept or the budget is
        full; return how many are kept. Training then reads every kept sample from memory from its first step,
        as a `datasets.map` user's data is before `trainer.train()`. `shown` gets the count after each batch."""
        for kept in self.encoding_ahead(batch):
            if shown is not None:
                shown(kept)
        return len(self.kept)

    def encoding_ahead(self, batch: int = 64) -> Iterator[int]:
        """`encode_ahead` one batch per step of the iterator, which yields how many are kept after each (a data
        mix takes its sources' batches in turn)."""
        if not self.keep_bytes:
            return
        for start in range(0, len(self.samples), batch):
            indices = list(range(start, min(start + batch, len(self.samples))))
            self.__getitems__(indices)
            yield len(self.kept)
            if indices[-1] not in self.kept:  # the budget is full: the rest is encoded when training reads it
                return

    def _keep(self, index: int, item: dict[str, Any]) -> None:
        if self.keep_bytes:
            size = _nbytes(item)
            if self.budget.take(size):
                self.kept[index] = item
                self.kept_bytes += size


@dataclass
class KeepBudget:
    """Bytes of encoded samples that may be kept (train.keep_encoded_mb), and how many are; the EncodedDatasets
    given the same one share it, first come first kept."""

    limit: int
    used: int = 0

    def take(self, size: int) -> bool:
        """Count `size` more bytes as kept if they fit; whether they did."""
        if self.used + size > self.limit:
            return False
        self.used += size
        return True


def _nbytes(item: dict[str, Any]) -> int:
    """Bytes an encoded sample holds (tensors and arrays by their buffers, lists of ids at 8 bytes each)."""
    total = 0
    for value in item.values():
        if hasattr(value, "nbytes"):
            total += int(value.nbytes)
        elif hasattr(value, "element_size"):
            total += value.element_size() * value.nelement()
        elif isinstance(value, (list, tuple)):
            total += 8 * len(value)
    return total
