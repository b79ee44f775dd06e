"""JSONL / CSV manifests: one row per sample, media paths relative to the manifest."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from plait.data.sample import Sample
from plait.core.loader import read_utf8
from plait.errors import UserError


MISSING = "unusable"
"""Sample.meta key set by a source when a row lacks what a sample needs; screening skips and counts it."""


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a .jsonl, .json (list) or .csv/.tsv file; each row an object (a mapping)."""
    if not path.is_file():
        raise UserError(f"{path}: manifest not found")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".tsv"):
        raise UserError(f"{path}: unsupported manifest type {suffix!r}; use .jsonl, .json, .csv or .tsv")
    text = read_utf8(path)
    if suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path} line {number}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise UserError(f"{path} line {number}: a row must be a JSON object "
                                f"({{\"image\": ..., ...}}), got a {type(row).__name__}")
            rows.append(row)
        return rows
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"{path} line {err.lineno}: not valid JSON ({err.msg})") from None
        if not isinstance(data, list):
            raise UserError(f"{path}: expected a JSON list of samples, got a {type(data).__name__}")
        for number, row in enumerate(data):
            if not isinstance(row, dict):
                raise UserError(f"{path} item {number}: a sample must be a JSON object, got a {type(row).__name__}")
        return data
    try:
        return list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ","))
    except csv.Error as err:
        raise UserError(f"{path}: not a valid {suffix[1:].upper()} file ({err})") from None


def read_manifest(
    path: Path, id_field: str, image_field: str, prompt_field: str, target_field: str
) -> list[Sample]:
    """Samples of a manifest; a column missing from every row is an error naming the file and the column, a row
    lacking its image or target is kept only to be skipped and counted by screening."""
    rows = read_rows(path)
    present = set().union(*rows) if rows else set()
    for needed in (image_field, prompt_field, target_field):
        if rows and needed not in present:
            raise UserError(f"{path}: missing column {needed!r}; columns present: {', '.join(sorted(present))}")
    samples = []
    for i, row in enumerate(rows):
        image = row.get(image_field)
        media = None
        if image:
            media = Path(image) if Path(image).is_absolute() else path.parent / image
        lacking = [f for f in (image_field, target_field) if row.get(f) is None or row.get(f) == ""]
        samples.append(Sample(
            id=str(row.get(id_field, i)),
            prompt=str(row.get(prompt_field) or ""),
            target=str(row.get(target_field) or ""),
            media=media,
            meta={MISSING: f"row without {' or '.join(lacking)}"} if lacking else {},
        ))
    return samples
