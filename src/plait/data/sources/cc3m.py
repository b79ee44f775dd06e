"""Conceptual Captions 3M as distributed: `caption<TAB>url` TSVs and the downloader's row-aligned report."""

from __future__ import annotations

import csv
import gzip
import re
import sys
from pathlib import Path
from typing import IO, Literal

from pydantic import Field, model_validator

from plait.core.strict import Strict
from plait.core.fields import FilePath
from plait.data.sample import Sample
from plait.data.sources.manifest import MISSING as UNUSABLE
from plait.errors import UserError

REPORT_COLUMNS = ("file", "folder", "mimetype", "size", "status", "url")
"""The downloader report's columns (igorbrigadir/DownloadConceptualCaptions), no header."""


class Cc3mSplit(Strict):
    """One split: Google's caption TSV and the download report written beside the images."""

    captions: FilePath
    """`Train_GCC-training.tsv` (or the validation one): `caption<TAB>url` per line, no header (.gz read too)."""
    report: FilePath
    """`downloaded_training_report.tsv` (.gz read too): one row per caption line, in the same order."""
    images: FilePath | None = None
    """Folder the report's file paths are relative to (default: the report's folder, where the downloader ran)."""


class Cc3mSource(Strict):
    """CC-3M image-caption pairs; rows whose download failed are skipped and counted in the data report."""

    kind: Literal["cc3m"] = "cc3m"
    """Source kind (the discriminator)."""
    train: Cc3mSplit
    """Training split."""
    validation: Cc3mSplit | None = None
    """Validation split."""
    test: Cc3mSplit | None = None
    """Test split."""
    report_columns: list[str] = list(REPORT_COLUMNS)
    """Column names of the report, in order (it has no header); `file`, `status` and `url` are required, `mimetype`
    is used when present. Later downloader versions write url, folder, status, mimetype, size, file, headers."""
    prompt: str = ""
    """Prompt of every sample (the caption is the target)."""
    clean: bool = True
    """Remove the space before . , : ; ! ? in captions (Google's captions are tokenized), as BabyLM does."""
    max_rows: int | None = Field(None, ge=1)
    """Read at most this many rows per split (None = all)."""

    @model_validator(mode="after")
    def _columns(self) -> "Cc3mSource":
        missing = [c for c in ("file", "status", "url") if c not in self.report_columns]
        if missing:
            raise ValueError(f"report_columns: needs {', '.join(missing)} (got {self.report_columns})")
        return self


def _open(path: Path) -> IO[str]:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _rows(path: Path, limit: int | None) -> list[list[str]]:
    csv.field_size_limit(sys.maxsize)
    rows: list[list[str]] = []
    try:
        with _open(path) as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if limit is not None and len(rows) >= limit:
                    break
                rows.append(row)
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text ({err.reason}, after {len(rows)} rows); CC-3M's TSVs are "
                        "UTF-8") from None
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError; a cut-off .gz ends in EOFError
        raise UserError(f"{path}: cannot be read ({err})") from None
    return rows


def clean_caption(text: str) -> str:
    """`a dog , running .` -> `a dog, running.`"""
    return re.sub(r"\s+([.,:;!?])", r"\1", " ".join(text.split()))


def _failure(row: dict[str, str]) -> str | None:
    status = (row.get("status") or "").strip()
    if not status.replace(".", "", 1).isdigit() or int(float(status)) != 200:
        return f"download failed (status {status or 'none'})"
    mimetype = (row.get("mimetype") or "").strip()
    if "mimetype" in row and mimetype and not mimetype.startswith("image/"):
        return f"not an image ({mimetype})"
    if not (row.get("file") or "").strip():
        return "download failed (no file)"
    return None


def read_cc3m_split(split: Cc3mSplit, columns: list[str], prompt: str, clean: bool,
                    limit: int | None = None) -> list[Sample]:
    """One sample per caption line. A failed download keeps its row with meta['unusable'] set to the reason, so the
    data report counts it (see plait.data.dataset.screen); a report out of step with the captions is an error."""
    captions = _rows(split.captions, limit)
    report = _rows(split.report, limit)
    if report and report[0][: len(columns)] == columns[: len(report[0])]:
        report = report[1:]  # a header someone added
    if len(report) != len(captions) and limit is None:
        raise UserError(f"{split.report}: {len(report)} rows but {split.captions} has {len(captions)}; the report "
                        "must have one row per caption line, in the same order")
    root = split.images or split.report.parent
    samples = []
    for line, (cap, rep) in enumerate(zip(captions, report), 1):
        if len(cap) < 2:
            raise UserError(f"{split.captions} line {line}: expected caption<TAB>url, got {len(cap)} field(s)")
        row = dict(zip(columns, rep))
        if "url" in row and row["url"].strip() != cap[1].strip():
            raise UserError(f"{split.report} row {line}: url {row['url'][:60]!r} is not line {line}'s of "
                            f"{split.captions} ({cap[1][:60]!r}); the files are out of step")
        reason = _failure(row)
        file = (row.get("file") or "").strip()
        samples.append(Sample(
            id=f"{split.captions.name.split('.')[0]}-{line}",
            prompt=prompt,
            target=clean_caption(cap[0]) if clean else cap[0].strip(),
            media=(root / file) if file else None,
            meta={UNUSABLE: reason} if reason else {},
        ))
    return samples
