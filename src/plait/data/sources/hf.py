"""Hugging Face datasets, read with datasets.load_dataset from the local cache, a local snapshot folder
(nyu-mll/glue's hub layout included) or local parquet/CSV/JSON files; text, label, image and path columns."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from plait.data.cache import cache_root
from plait.data.sample import Sample
from plait.data.text_config import HfSource
from plait.errors import UserError

SPLITS = ("train", "validation", "test")


def _folder_layout(source: HfSource) -> dict[str, list[str]] | None:
    """data_files of a snapshot folder laid out `<config>/<split>-*.parquet` (or a flat `<split>-*.parquet`) when it
    has no dataset card declaring its configs, so such a folder loads as it is."""
    root = Path(source.path)
    if not root.is_dir() or (root / "README.md").is_file() or source.data_files:
        return None
    folder = root / source.name if source.name and (root / source.name).is_dir() else root
    wanted = [s for s in (getattr(source.splits, k) for k in SPLITS) if s]
    files = {split: sorted(str(p) for p in folder.glob(f"{split}-*.parquet")) + sorted(
        str(p) for p in folder.glob(f"{split}.parquet")) for split in wanted}
    files = {k: v for k, v in files.items() if v}
    return files or None


def load_hf(source: HfSource) -> dict[str, Any]:
    """{dataset split name: datasets.Dataset} for the splits the source names."""
    import datasets

    wanted = {k: s for k in SPLITS if (s := getattr(source.splits, k))}
    layout = _folder_layout(source)
    try:
        if layout is not None:
            loaded = datasets.load_dataset("parquet", data_files=layout)
        elif source.data_files:
            loaded = datasets.load_dataset(source.path, data_files=source.data_files)
        else:
            loaded = datasets.load_dataset(source.path, source.name)
    except (FileNotFoundError, ValueError, ConnectionError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"data.source.path: cannot load {source.path!r}"
                        f"{f' (name {source.name!r})' if source.name else ''} offline: {first}") from None
    if "train" in wanted and wanted["train"] not in loaded:
        raise UserError(f"data.source.splits.train: {source.path!r} has no split {wanted['train']!r}; "
                        f"splits there: {', '.join(loaded)}")
    return {k: loaded[s] for k, s in wanted.items() if s in loaded}


def _check_columns(dataset: Any, source: HfSource, split: str) -> None:
    named = {f"data.source.{f}": getattr(source, f) for f in
             ("prompt_column", "pair_column", "target_column", "id_column", "image_column")}
    named |= {f"data.source.meta_columns[{i}]": c for i, c in enumerate(source.meta_columns)}
    for field, column in named.items():
        if column is not None and column not in dataset.column_names:
            raise UserError(f"{field}: {column!r} is not a column of {source.path!r} ({split}); "
                            f"columns: {', '.join(dataset.column_names)}")


def _store_image(value: Any) -> Path | None:
    """An Image feature's bytes written once under the cache, named by content; None when empty."""
    data = value.get("bytes") if isinstance(value, dict) else None
    if data is None and hasattr(value, "save"):  # a decoded PIL image
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        data = buffer.getvalue()
    if data is None:
        path = value.get("path") if isinstance(value, dict) else None
        return Path(path) if path else None
    digest = hashlib.sha256(data).hexdigest()
    folder = cache_root() / "hf-images" / digest[:2]
    target = folder / digest
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{id(value)}")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def _media(value: Any, root: Path | None) -> Path | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        path = Path(value)
        return path if path.is_absolute() or root is None else root / path
    return _store_image(value)


def _target(value: Any, names: list[str] | None) -> str:
    """Class labels by name (-1 = unlabelled: ""), numbers and texts as written."""
    if value is None:
        return ""
    if names is not None:
        return names[value] if 0 <= int(value) < len(names) else ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def rows_to_samples(dataset: Any, source: HfSource, split: str) -> list[Sample]:
    """The split's rows as samples."""
    import datasets

    _check_columns(dataset, source, split)
    feature = dataset.features.get(source.image_column) if source.image_column else None
    if isinstance(feature, datasets.Image) and feature.decode:
        dataset = dataset.cast_column(source.image_column, datasets.Image(decode=False))
    label = dataset.features.get(source.target_column) if source.target_column else None
    names = label.names if isinstance(label, datasets.ClassLabel) else None
    root = source.media_root or (Path(source.path) if Path(source.path).is_dir() else None)
    samples = []
    for i, row in enumerate(dataset):
        meta: dict[str, Any] = {c: row[c] for c in source.meta_columns}
        if source.pair_column:
            meta["text_pair"] = str(row[source.pair_column] or "")
        samples.append(Sample(
            id=str(row[source.id_column]) if source.id_column else str(i),
            prompt=str(row[source.prompt_column] or "") if source.prompt_column else "",
            target=_target(row[source.target_column], names) if source.target_column else "",
            media=_media(row[source.image_column], root) if source.image_column else None,
            meta=meta,
        ))
    return samples


def read_hf(source: HfSource) -> dict[str, list[Sample]]:
    """Samples per plait split."""
    return {split: rows_to_samples(dataset, source, split) for split, dataset in load_hf(source).items()}
