"""Images: a readability check for the data report, and loading to RGB."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError


def check_image(path: Path | None) -> str | None:
    """None when the image loads; otherwise the reason it cannot be used."""
    if path is None:
        return "no image path"
    if not path.exists():
        return "missing file"
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with Image.open(path) as img:
            img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"unreadable image ({type(err).__name__})"
    return None


def load_image(path: Path) -> Image.Image:
    """The image as RGB."""
    with Image.open(path) as img:
        return img.convert("RGB")
