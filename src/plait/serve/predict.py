"""Batch prediction: a manifest of prompts (and optional media and references) -> JSONL of answers."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from plait.data.sample import Sample
from plait.data.sources.manifest import read_rows
from plait.errors import UserError
from plait.evaluate.generate import generate
from plait.runs import atomic
from plait.serve.session import LoadedRun


@dataclass(frozen=True)
class Fields:
    """Manifest column names."""

    id: str = "id"
    media: str = "image"
    prompt: str = "prompt"
    reference: str = "target"
    decoder_prompt: str = "decoder_prompt"
    """Used when the manifest has it (encoder-decoder families)."""


def read_prompts(path: Path, fields: Fields) -> tuple[list[Sample], bool]:
    """Samples of a JSONL/JSON/CSV/TSV manifest (media relative to it) and whether references are given."""
    rows = read_rows(path)
    if not rows:
        raise UserError(f"{path}: the manifest has no rows")
    if fields.prompt not in rows[0]:
        raise UserError(f"{path}: missing column {fields.prompt!r} (set it with --prompt-field); "
                        f"columns present: {', '.join(sorted(rows[0]))}")
    has_reference = fields.reference in rows[0]
    samples = []
    for i, row in enumerate(rows):
        media = row.get(fields.media)
        if media:
            media = Path(media) if Path(media).is_absolute() else path.parent / media
        samples.append(Sample(id=str(row.get(fields.id, i)), prompt=str(row.get(fields.prompt) or ""),
                              target=str(row.get(fields.reference) or ""), media=media or None,
                              decoder_prompt=str(row.get(fields.decoder_prompt) or "")))
    return samples, has_reference


def check_media(loaded: LoadedRun, samples: list[Sample], path: Path, max_bad_fraction: float = 0.0
                ) -> tuple[list[Sample], dict[str, int]]:
    """The rows whose media can be used, and the skipped ones counted by reason; refuse the manifest, before
    generating anything, when more than `max_bad_fraction` of its rows are unusable."""
    bad = [(s, reason) for s in samples if s.media is not None and (reason := loaded.check_media(s.media))]
    if len(bad) > max_bad_fraction * len(samples):
        sample, reason = bad[0]
        raise UserError(f"{path}: {len(bad)} of {len(samples)} rows have unusable media "
                        f"(first: id {sample.id}, {sample.media}: {reason}), more than --max-bad-fraction "
                        f"{max_bad_fraction:g}; raise it to skip them")
    skipped = {s.id for s, _ in bad}
    counts = Counter(reason for _, reason in bad)
    return [s for s in samples if s.id not in skipped], dict(sorted(counts.items()))


def predict(loaded: LoadedRun, samples: list[Sample], has_reference: bool, out: Path, batch_size: int,
            max_new_tokens: int, num_beams: int, progress: bool = True) -> dict[str, float]:
    """Generate an answer per sample, write them as JSONL to `out` at once; return count, seconds, samples/s."""
    start = time.perf_counter()
    predictions = generate(loaded.built.model, loaded.processor, samples, max_new_tokens, num_beams,
                           batch_size, progress=progress)
    seconds = time.perf_counter() - start
    lines = []
    for sample, prediction in zip(samples, predictions, strict=True):
        record = {"id": sample.id, "prompt": sample.prompt, "prediction": prediction}
        if has_reference:
            record["reference"] = sample.target
        lines.append(json.dumps(record) + "\n")
    atomic.write_text(out, "".join(lines))
    return {"samples": len(samples), "seconds": round(seconds, 3),
            "samples_per_second": round(len(samples) / max(seconds, 1e-9), 2)}
