"""JSONL / CSV manifests: one row per sample, media paths relative to the manifest."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from plait.data.sample import Sample
from plait.errors import UserError


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a .jsonl, .json (list) or .csv/.tsv file."""
    if not path.is_file():
        raise UserError(f"{path}: manifest not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise UserError(f"{path} line {number}: not valid JSON ({err.msg})") from None
        return rows
    if suffix == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, list):
            raise UserError(f"{path}: expected a JSON list of samples")
        return data
    if suffix in (".csv", ".tsv"):
        with open(path, newline="") as f:
            return list(csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ","))
    raise UserError(f"{path}: unsupported manifest type {suffix!r}; use .jsonl, .json, .csv or .tsv")


def read_manifest(
    path: Path, id_field: str, image_field: str, prompt_field: str, target_field: str
) -> list[Sample]:
    """Samples of a manifest; a missing column is an error naming the file and the column."""
    rows = read_rows(path)
    if rows:
        present = set(rows[0])
        for needed in (image_field, prompt_field, target_field):
            if needed not in present:
                raise UserError(
                    f"{path}: missing column {needed!r}; columns present: {', '.join(sorted(present))}"
                )
    samples = []
    for i, row in enumerate(rows):
        image = row.get(image_field)
        media = None
        if image:
            media = Path(image) if Path(image).is_absolute() else path.parent / image
        samples.append(Sample(
            id=str(row.get(id_field, i)),
            prompt=str(row.get(prompt_field) or ""),
            target=str(row.get(target_field) or ""),
            media=media,
        ))
    return samples
