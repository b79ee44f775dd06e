"""A built-in caption set for the BabyLM-style quickstarts: scenes of one or two shapes with captions, written in
CC-3M's own format (caption TSV + download report, with a few failed downloads), and a text-only corpus of
sentences about the same world.

Generated offline, deterministically from the source settings, into the cache on first use.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Literal

from pydantic import Field

from plait.core.strict import Strict
from plait.data.builtin.common import generated_once

VERSION = 1
FAILED_EVERY = 50
"""One caption row in this many is written as a failed download (status 404, no file), as in real CC-3M."""
TEXT_TEMPLATES = (
    "the {color} {shape} is {size}",
    "a {size} {shape} sits at the {position}",
    "there is a {color} {shape} at the {position}",
    "the {shape} at the {position} is {color}",
    "a {size} {color} {shape} and a {color2} {shape2}",
)


class BuiltinCaptionsSource(Strict):
    """Synthetic captioned scenes (read through the cc3m reader) or their text-only companion corpus."""

    kind: Literal["builtin_captions"] = "builtin_captions"
    """Source kind (the discriminator)."""
    part: Literal["captions", "text"] = "captions"
    """captions: images with captions (empty prompt); text: sentences without images (empty prompt, the sentence
    is the target)."""
    train_size: int = Field(2000, ge=1)
    """Training rows (captions: before failed downloads are skipped)."""
    validation_size: int = Field(100, ge=0)
    """Validation rows."""
    test_size: int = Field(200, ge=0)
    """Held-out test rows."""
    image_size: int = Field(32, ge=8, le=512)
    """Side of the square images in pixels."""
    seed: int = 1234
    """Seed of the generator (independent of the experiment seed, so data stay fixed)."""


def _attrs(rng: random.Random, position: str | None = None) -> dict[str, str]:
    from plait.data.builtin.shapes import COLORS, POSITIONS, SHAPES, SIZES

    return {"color": rng.choice(list(COLORS)), "shape": rng.choice(SHAPES), "size": rng.choice(SIZES),
            "position": position or rng.choice(POSITIONS)}


def scene_caption(objects: list[dict[str, str]]) -> str:
    """'a small red circle at the top left and a large blue square at the bottom right' (reading order)."""
    from plait.data.builtin.shapes import caption

    return " and ".join(caption(o) for o in objects)


def _scene(rng: random.Random, image_size: int) -> tuple[object, str]:
    from PIL import Image

    from plait.data.builtin.shapes import BACKGROUND, POSITIONS, draw

    count = rng.choice((1, 2))
    positions = sorted(rng.sample(POSITIONS, count), key=POSITIONS.index)
    objects = [_attrs(rng, p) for p in positions]
    img = Image.new("RGB", (image_size, image_size), BACKGROUND)
    for o in objects:
        layer = draw(image_size=image_size, rng=rng, **o)
        mask = layer.convert("L").point(lambda v: 255 if v > 40 else 0)
        img.paste(layer, (0, 0), mask)
    return img, scene_caption(objects)


def write_captions(tmp: Path, sizes: dict[str, int], image_size: int, seed: int) -> None:
    """Images under training/ ..., `<split>_captions.tsv` (caption<TAB>url) and `<split>_report.tsv`
    (file, folder, mimetype, size, status, url), one failed download every FAILED_EVERY rows."""
    rng = random.Random(seed)
    for split, count in sizes.items():
        (tmp / split).mkdir()
        captions, report = [], []
        for i in range(count):
            img, text = _scene(rng, image_size)
            url = f"http://builtin.invalid/{split}/{i}.png"
            name = f"{split}/{zlib.crc32(url.encode()) & 0xFFFFFFFF}"
            if (i + 1) % FAILED_EVERY == 0:
                report.append(("", split, "", "", "404", url))
            else:
                img.save(tmp / name, format="PNG")
                report.append((name, split, "image/png", str((tmp / name).stat().st_size), "200", url))
            captions.append((text, url))
        (tmp / f"{split}_captions.tsv").write_text("".join(f"{c}\t{u}\n" for c, u in captions))
        (tmp / f"{split}_report.tsv").write_text("".join("\t".join(r) + "\n" for r in report))


def write_text(tmp: Path, sizes: dict[str, int], seed: int) -> None:
    """`<split>.txt`: one sentence per line."""
    rng = random.Random(seed + 1)
    for split, count in sizes.items():
        lines = []
        for _ in range(count):
            a, b = _attrs(rng), _attrs(rng)
            lines.append(rng.choice(TEXT_TEMPLATES).format(**a, color2=b["color"], shape2=b["shape"]))
        (tmp / f"{split}.txt").write_text("\n".join(lines) + "\n")


def generate_captions(source: BuiltinCaptionsSource) -> Path:
    """Generate (once) and return the folder of the captions or the text corpus."""
    sizes = {"train": source.train_size, "validation": source.validation_size, "test": source.test_size}
    params = dict(part=source.part, image_size=source.image_size, seed=source.seed, version=VERSION, **sizes)
    with generated_once(f"captions-{source.part}", params) as (folder, tmp):
        if tmp is not None and source.part == "captions":
            write_captions(tmp, sizes, source.image_size, source.seed)
        elif tmp is not None:
            write_text(tmp, sizes, source.seed)
    return folder


def read_builtin_captions(source: BuiltinCaptionsSource) -> dict[str, list]:
    """Samples per split: captions through the CC-3M reader, text lines as media-less samples."""
    from plait.data.sample import Sample
    from plait.data.sources.cc3m import REPORT_COLUMNS, Cc3mSplit, read_cc3m_split

    folder = generate_captions(source)
    splits = ("train", "validation", "test")
    if source.part == "captions":
        return {s: read_cc3m_split(Cc3mSplit(captions=folder / f"{s}_captions.tsv", report=folder / f"{s}_report.tsv"),
                                   list(REPORT_COLUMNS), "", True) for s in splits}
    return {s: [Sample(id=f"text-{s}-{i}", prompt="", target=line)
                for i, line in enumerate((folder / f"{s}.txt").read_text().splitlines()) if line]
            for s in splits}
