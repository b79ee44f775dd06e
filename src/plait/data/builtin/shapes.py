"""Synthetic shapes: coloured shapes of several sizes and positions, with captions and questions.

Generated offline, deterministically from the source settings, into the cache on first use.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from plait.data.builtin.common import generated_once, write_manifest

COLORS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 80, 230),
    "yellow": (230, 210, 40),
    "purple": (150, 60, 200),
}
BACKGROUND = (24, 24, 24)
SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "large")
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
QUESTIONS = {
    "color": "what color is the shape?",
    "shape": "what shape is it?",
    "size": "how big is the shape?",
    "position": "where is the shape?",
}
VERSION = 4


def draw(color: str, shape: str, size: str, position: str, image_size: int, rng: random.Random) -> Image.Image:
    """One image: a shape on a dark background, centred in its quadrant with a pixel or two of jitter."""
    img = Image.new("RGB", (image_size, image_size), BACKGROUND)
    half = image_size / 2
    extent = half * (0.95 if size == "large" else 0.6)
    top = position.startswith("top")
    left = position.endswith("left")
    slack = half - extent
    x0 = (0 if left else half) + slack / 2 + rng.uniform(-1, 1)
    y0 = (0 if top else half) + slack / 2 + rng.uniform(-1, 1)
    box = [x0, y0, x0 + extent, y0 + extent]
    fill = tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in COLORS[color])
    pen = ImageDraw.Draw(img)
    if shape == "circle":
        pen.ellipse(box, fill=fill)
    elif shape == "square":
        pen.rectangle(box, fill=fill)
    else:
        pen.polygon([(x0 + extent / 2, y0), (x0, y0 + extent), (x0 + extent, y0 + extent)], fill=fill)
    return img


def caption(attrs: dict[str, str]) -> str:
    """A full description, e.g. 'a small red circle at the top left'."""
    return f"a {attrs['size']} {attrs['color']} {attrs['shape']} at the {attrs['position']}"


def generate_shapes(
    train_size: int, validation_size: int, test_size: int, image_size: int, seed: int
) -> Path:
    """Generate (once) and return the folder holding images and train/validation/test manifests."""
    params = dict(train=train_size, validation=validation_size, test=test_size, image_size=image_size,
                  seed=seed, version=VERSION)
    with generated_once("shapes", params) as (folder, tmp):
        if tmp is not None:
            write_shapes(tmp, train_size, validation_size, test_size, image_size, seed)
    return folder


def write_shapes(tmp: Path, train_size: int, validation_size: int, test_size: int, image_size: int,
                 seed: int) -> None:
    """Draw the images and write the manifests into `tmp`."""
    (tmp / "images").mkdir()
    rng = random.Random(seed)
    for split, count in (("train", train_size), ("validation", validation_size), ("test", test_size)):
        rows = []
        for i in range(count):
            attrs = {
                "color": rng.choice(list(COLORS)),
                "shape": rng.choice(SHAPES),
                "size": rng.choice(SIZES),
                "position": rng.choice(POSITIONS),
            }
            asked = rng.choice(list(QUESTIONS))
            name = f"{split}-{i:06d}.png"
            draw(image_size=image_size, rng=rng, **attrs).save(tmp / "images" / name)
            rows.append({
                "id": f"{split}-{i:06d}", "image": f"images/{name}", **attrs,
                "question": QUESTIONS[asked], "answer": attrs[asked], "caption": caption(attrs),
            })
        write_manifest(tmp / f"{split}.jsonl", rows)
