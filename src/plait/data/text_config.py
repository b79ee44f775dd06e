"""Config of the text-corpus and Hugging Face datasets sources, and the built-in text data (torch-free)."""

from __future__ import annotations

import codecs
import glob
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from plait.core.fields import FilePath
from plait.core.strict import Strict


def _resolve_pattern(value: str, info: ValidationInfo) -> str:
    """Relative file patterns in an experiment file are relative to that file."""
    if Path(value).is_absolute():
        return value
    base = (info.context or {}).get("base_dir")
    return str(Path(base) / value) if base else str(Path(value).resolve())


Pattern = Annotated[str, AfterValidator(_resolve_pattern)]
"""A file path or glob (`data/*.train`), resolved against the experiment file's folder when relative."""


class TextSource(Strict):
    """Plain-text corpora (e.g. BabyLM's *.train files): one example per line, or lines grouped into blocks."""

    kind: Literal["text"] = "text"
    """Source kind (the discriminator)."""
    train: list[Pattern] = Field(min_length=1)
    """Training files or globs; every match is read, in sorted order."""
    validation: list[Pattern] = []
    """Validation files or globs (e.g. *.dev)."""
    test: list[Pattern] = []
    """Test files or globs."""
    mode: Literal["lines", "blocks"] = "blocks"
    """lines: each non-blank line is one example; blocks: all lines of a split are concatenated and cut into
    `block_size`-word examples, the short remainder dropped (transformers' run_mlm/run_clm group_texts, counted
    in words because the source runs before the tokenizer exists; model.max_length then truncates in tokens)."""
    block_size: int = Field(96, ge=1)
    """Words per example in blocks mode."""
    encoding: str = "utf-8"
    """Text encoding of the files (a Python codec name: utf-8, latin-1, cp1252...)."""

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"{value!r} is not a text encoding Python knows (e.g. utf-8, latin-1, cp1252)") from None
        return value

    def missing_files(self, prefix: str = "data.source") -> list[str]:
        """One line per pattern that matches no file, by its dotted key."""
        return [f"{prefix}.{split}[{i}]: {pattern!r} matches no file"
                for split in ("train", "validation", "test") for i, pattern in enumerate(getattr(self, split))
                if not any(Path(p).is_file() for p in glob.glob(pattern, recursive=True))]


class HfSplits(Strict):
    """Which split of the Hugging Face dataset plays each plait split (null = none)."""

    train: str | None = "train"
    """Split used for training."""
    validation: str | None = "validation"
    """Split used for validation (e.g. validation_matched for MNLI)."""
    test: str | None = "test"
    """Split used for testing (GLUE's test splits carry no labels, label -1: evaluation counts them as left out)."""


class HfSource(Strict):
    """A Hugging Face dataset read with datasets.load_dataset: from the local cache (hub name, offline), a local
    snapshot folder (e.g. nyu-mll/glue's layout, one folder per config, parquet per split), or local files."""

    kind: Literal["hf"] = "hf"
    """Source kind (the discriminator)."""
    path: str
    """Dataset name in the local cache (e.g. nyu-mll/glue), a local dataset folder, or a builder for `data_files`
    (parquet, csv, json)."""
    name: str | None = None
    """Dataset configuration (e.g. cola, mnli)."""
    data_files: dict[str, list[Pattern]] | None = None
    """Files per split name for a builder path (e.g. {train: [train.parquet]}); relative to the experiment file."""
    splits: HfSplits = HfSplits()
    """Dataset split names for train, validation and test."""
    prompt_column: str | None = None
    """Column with the input text (prompt); e.g. sentence, sentence1, question, premise."""
    pair_column: str | None = None
    """Column with the second text of a pair (e.g. sentence2, hypothesis), kept as meta text_pair."""
    target_column: str | None = None
    """Column with the target: a label (class names used for class labels; -1 = no label), a score or a text."""
    id_column: str | None = None
    """Column with the sample id (row number when unset)."""
    image_column: str | None = None
    """Column with an image: an Image feature (stored once under the cache, keyed by content) or a file path."""
    media_root: FilePath | None = None
    """Folder file paths in `image_column` are relative to (default: `path` when it is a folder, else as given)."""
    meta_columns: list[str] = []
    """Further columns kept in each sample's meta."""


class BuiltinTextSource(Strict):
    """A synthetic English-like corpus from a small grammar (the vocabulary of the built-in GLUE-like tasks),
    written as *.train / *.dev files and read like `kind: text`."""

    kind: Literal["builtin_text"] = "builtin_text"
    """Source kind (the discriminator)."""
    sentences: int = Field(20000, ge=10)
    """Training sentences (the dev file gets a tenth as many)."""
    mode: Literal["lines", "blocks"] = "blocks"
    """As in `kind: text`."""
    block_size: int = Field(48, ge=1)
    """Words per example in blocks mode."""
    seed: int = 1234
    """Seed of the generator (independent of the experiment seed, so data stay fixed)."""


class BuiltinGlueSource(Strict):
    """One of nine synthetic GLUE-like tasks (each with a rule a tiny model learns), generated offline in
    nyu-mll/glue's hub layout and read through `kind: hf`."""

    kind: Literal["builtin_glue"] = "builtin_glue"
    """Source kind (the discriminator)."""
    task: Literal["cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli"]
    """The GLUE task it imitates (columns, labels and splits as in GLUE; MNLI validation is validation_matched)."""
    train_size: int = Field(2000, ge=10)
    """Training rows."""
    validation_size: int = Field(400, ge=10)
    """Validation rows (each of MNLI's matched and mismatched)."""
    seed: int = 1234
    """Seed of the generator."""
