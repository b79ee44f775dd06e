"""A synthetic data set in ScienceQA's layout: three subjects, images for one, hints for another.

natural science: "What color is the shape?" about a picture (some also carry a hint: TXT and IMG overlap);
social science: a hint says where someone lives, the question asks which city (TXT);
language science: which animal makes a sound, with neither hint nor image (NO).
Options come in a fixed order, so chance is 1/4, 1/3 and 1/4. Grades 1-12 are drawn at random.
Generated offline, deterministically from its settings, into the cache on first use.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

from plait.data.builtin.common import generated_once

COLORS = {"blue": (50, 80, 230), "green": (40, 180, 60), "red": (220, 40, 40), "yellow": (230, 210, 40)}
CITIES = ("Cairo", "Paris", "Rome")
ANIMALS = {"cat": "meow", "cow": "moo", "dog": "woof", "duck": "quack"}
NAMES = ("Mia", "Tom", "Ana", "Leo", "Zoe", "Sam", "Ivy", "Max")
VERSION = 1


def picture(color: str, size: int, rng: random.Random) -> Image.Image:
    """A shape of `color` (slightly varied) on a grey background."""
    img = Image.new("RGB", (size, size), (128, 128, 128))
    fill = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLORS[color])
    x0, y0 = rng.randint(0, size // 4), rng.randint(0, size // 4)
    box = [x0, y0, x0 + size // 2 + rng.randint(0, size // 4), y0 + size // 2 + rng.randint(0, size // 4)]
    pen = ImageDraw.Draw(img)
    (pen.ellipse if rng.random() < 0.5 else pen.rectangle)(box, fill=fill)
    return img


def problem(kind: str, split: str, rng: random.Random) -> tuple[dict, str | None]:
    """One problems.json entry and the colour to draw (None: no image)."""
    grade = f"grade{rng.randint(1, 12)}"
    base = {"task": "closed choice", "grade": grade, "split": split, "image": None, "hint": ""}
    if kind == "natural":
        color = rng.choice(list(COLORS))
        choices = list(COLORS)
        hint = "Look at the picture." if rng.random() < 0.3 else ""
        return base | {
            "question": "What color is the shape?", "choices": choices, "answer": choices.index(color),
            "hint": hint, "image": "image.png", "subject": "natural science", "topic": "colors",
            "category": "Identify colors", "skill": "colors", "lecture": "Each shape has one color.",
            "solution": f"The shape is {color}.",
        }, color
    if kind == "social":
        city, name = rng.choice(CITIES), rng.choice(NAMES)
        choices = list(CITIES)
        return base | {
            "question": f"Which city does {name} live in?", "choices": choices, "answer": choices.index(city),
            "hint": f"{name} lives in {city}.", "subject": "social science", "topic": "geography",
            "category": "Read a text", "skill": "cities", "lecture": "A text can tell where people live.",
            "solution": f"The text says {name} lives in {city}.",
        }, None
    animal = rng.choice(list(ANIMALS))
    choices = list(ANIMALS)
    return base | {
        "question": f"Which animal says {ANIMALS[animal]}?", "choices": choices, "answer": choices.index(animal),
        "subject": "language science", "topic": "vocabulary", "category": "Animal sounds", "skill": "sounds",
        "lecture": "Animals make different sounds.", "solution": f"A {animal} says {ANIMALS[animal]}.",
    }, None


def write_scienceqa(folder: Path, sizes: dict[str, int], image_size: int, seed: int) -> None:
    """problems.json, pid_splits.json (train/val/test, trainval, mini*), captions.json and the images."""
    rng = random.Random(seed)
    problems, splits, captions = {}, {}, {}
    qid = 0
    for split, count in sizes.items():
        splits[split] = []
        for _ in range(count):
            qid += 1
            entry, color = problem(rng.choice(("natural", "social", "language")), split, rng)
            key = str(qid)
            problems[key] = entry
            splits[split].append(key)
            if color is not None:
                image_dir = folder / "images" / split / key
                image_dir.mkdir(parents=True)
                picture(color, image_size, rng).save(image_dir / "image.png")
                captions[key] = f"A {color} shape on a grey background."
    splits["trainval"] = splits["train"] + splits["val"]
    for split in ("train", "val", "test"):
        splits[f"mini{split}"] = splits[split][: max(1, len(splits[split]) // 4)]
    (folder / "problems.json").write_text(json.dumps(problems, indent=1))
    (folder / "pid_splits.json").write_text(json.dumps(splits))
    (folder / "captions.json").write_text(json.dumps({"captions": captions}))


def generate_scienceqa(train: int, validation: int, test: int, image_size: int, seed: int) -> Path:
    """Generate (once) and return the folder in ScienceQA's layout."""
    params = dict(train=train, val=validation, test=test, image_size=image_size, seed=seed, version=VERSION)
    with generated_once("scienceqa", params) as (folder, tmp):
        if tmp is not None:
            write_scienceqa(tmp, {"train": train, "val": validation, "test": test}, image_size, seed)
    return folder
