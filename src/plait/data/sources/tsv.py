"""MultimodalHugs metadata TSVs: one row per sample, signal paths absolute or relative to the TSV."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from plait.data.sample import Sample
from plait.core.loader import read_utf8
from plait.data.sources.manifest import MISSING
from plait.errors import UserError

COLUMNS = ("signal", "signal_start", "signal_end", "encoder_prompt", "decoder_prompt", "output")


def _milliseconds(value: str | None, path: Path, line: int, column: str) -> float | None:
    """A time in ms; empty or 0 means 'from the start' / 'to the end', as in MultimodalHugs."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise UserError(f"{path} line {line}: {column} {text!r} is not a number of milliseconds") from None
    if number < 0:
        raise UserError(f"{path} line {line}: {column} {text!r} is negative")
    return number or None


def read_tsv(path: Path) -> list[Sample]:
    """Samples of a MultimodalHugs TSV; a missing column is an error naming the file and the column."""
    if not path.is_file():
        raise UserError(f"{path}: TSV file not found")
    csv.field_size_limit(sys.maxsize)
    with io.StringIO(read_utf8(path), newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        present = [c for c in (reader.fieldnames or []) if c]
        for column in COLUMNS:
            if column not in present:
                raise UserError(
                    f"{path}: missing column {column!r}; a MultimodalHugs TSV has the columns "
                    f"{', '.join(COLUMNS)} (found: {', '.join(present) or 'none'})"
                )
        rows = list(reader)
    samples = []
    for i, row in enumerate(rows):
        line = i + 2  # the header is line 1
        signal = (row["signal"] or "").strip()
        media = None
        if signal:
            media = Path(signal) if Path(signal).is_absolute() else path.parent / signal
        start = _milliseconds(row["signal_start"], path, line, "signal_start")
        end = _milliseconds(row["signal_end"], path, line, "signal_end")
        if start is not None and end is not None and end <= start:
            raise UserError(f"{path} line {line}: signal_end ({end:g}) must be after signal_start ({start:g})")
        samples.append(Sample(
            id=f"{path.stem}-{i}",
            prompt=(row["encoder_prompt"] or "").strip(),
            target=(row["output"] or "").strip(),
            media=media,
            start_ms=start,
            end_ms=end,
            decoder_prompt=(row["decoder_prompt"] or "").strip(),
            meta={MISSING: "row without output"} if row["output"] is None else {},
        ))
    return samples


def write_tsv(path: Path, rows: list[dict[str, object]]) -> None:
    """Write rows with the MultimodalHugs columns (used by the built-in signs data and tests)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS), delimiter="\t", extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
