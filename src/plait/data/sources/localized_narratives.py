"""Localized Narratives as released: one JSON object per line, images in a folder named by image id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from plait.core.strict import Strict
from plait.core.fields import FilePath
from plait.data.sample import Sample
from plait.errors import UserError

FIELDS = ("dataset_id", "image_id", "annotator_id", "caption")
"""Fields every line must have (timed_caption, traces and voice_recording are not used)."""


class NarrativesSplit(Strict):
    """One split: an official JSONL file and the folder of its images."""

    annotations: FilePath
    """E.g. `coco_train_localized_narratives.jsonl` or `open_images_train_v6_localized_narratives-00000-of-00010.jsonl`."""
    images: FilePath
    """Folder of the images: `{image_id:012d}.jpg` for COCO, `{image_id}.jpg` for the others (Open Images...)."""


class LocalizedNarrativesSource(Strict):
    """Localized Narratives captions; missing or unreadable images are skipped and counted in the data report."""

    kind: Literal["localized_narratives"] = "localized_narratives"
    """Source kind (the discriminator)."""
    train: NarrativesSplit
    """Training split."""
    validation: NarrativesSplit | None = None
    """Validation split."""
    test: NarrativesSplit | None = None
    """Test split."""
    naming: Literal["auto", "coco", "open_images"] = "auto"
    """Image file names: coco `{image_id:012d}.jpg`; open_images `{image_id}.jpg`; auto: coco when the line's
    dataset_id starts with `mscoco` or `coco`, else open_images."""
    prompt: str = ""
    """Prompt of every sample (the narrative is the target)."""
    max_rows: int | None = Field(None, ge=1)
    """Read at most this many lines per split (None = all)."""


def image_name(dataset_id: str, image_id: str, naming: str) -> str:
    """The image's file name under the split's folder."""
    coco = naming == "coco" or (naming == "auto" and dataset_id.lower().startswith(("mscoco", "coco")))
    return f"{int(image_id):012d}.jpg" if coco else f"{image_id}.jpg"


def read_narratives(split: NarrativesSplit, naming: str, prompt: str, limit: int | None = None) -> list[Sample]:
    """One sample per line, the caption with its whitespace (non-breaking spaces included) collapsed."""
    if not split.annotations.is_file():
        raise UserError(f"{split.annotations}: file not found")
    samples = []
    with open(split.annotations, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if limit is not None and len(samples) >= limit:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{split.annotations} line {number}: not valid JSON ({err.msg})") from None
            missing = [k for k in FIELDS if k not in row]
            if missing:
                raise UserError(f"{split.annotations} line {number}: missing {', '.join(missing)}; a Localized "
                                f"Narratives line has {', '.join(FIELDS)}, timed_caption, traces, voice_recording")
            try:
                name = image_name(str(row["dataset_id"]), str(row["image_id"]), naming)
            except ValueError:
                raise UserError(f"{split.annotations} line {number}: image_id {row['image_id']!r} is not a number, "
                                "as COCO ids are; set naming: open_images") from None
            samples.append(Sample(
                id=f"{row['dataset_id']}/{row['image_id']}/{row['annotator_id']}",
                prompt=prompt,
                target=" ".join(str(row["caption"]).replace("\xa0", " ").split()),
                media=split.images / name,
            ))
    return samples
