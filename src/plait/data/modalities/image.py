"""Images: a readability check for the data report, and loading to RGB, with an explicit pixel cap."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:
    from plait.data.sample import Sample

MAX_PIXELS = 64 * 1024 * 1024
"""Largest image plait decodes (width x height): 64 Mpx, 256 MiB as RGBA. A file that claims more is skipped as a
"decompression bomb" instead of being decoded (PIL's own guard warns at 89 Mpx and refuses only at 179 Mpx)."""


class ImageTooLarge(ValueError):
    """The image header claims more pixels than MAX_PIXELS."""


def _open(path: Path) -> Image.Image:
    """The image, opened lazily (header only), refused when it claims more than MAX_PIXELS."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = Image.open(path)
    width, height = img.size
    if width * height > MAX_PIXELS:
        img.close()
        raise ImageTooLarge(f"{path}: {width} x {height} pixels, more than {MAX_PIXELS}")
    return img


def check_image(path: Path | None) -> str | None:
    """None when the image loads; otherwise the reason it cannot be used."""
    if path is None:
        return "no image path"
    if not path.exists():
        return "missing file"
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with _open(path) as img:
            img.load()
    except (ImageTooLarge, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return f"image over {MAX_PIXELS // 2**20} Mpx (decompression bomb)"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"unreadable image ({type(err).__name__})"
    return None


def load_image(path: Path) -> Image.Image:
    """The image as RGB (ImageTooLarge past MAX_PIXELS)."""
    with _open(path) as img:
        return img.convert("RGB")


def check_optional_image(sample: "Sample") -> str | None:
    """A sample's image must load when it has one; text-only samples are fine."""
    return check_image(sample.media) if sample.media is not None else None


def pixel_values(image_processor: Any, path: Path | None) -> Any:
    """One image through a transformers image processor: its (C, H, W) pixel tensor, or None without an image."""
    if path is None:
        return None
    return image_processor(images=load_image(path), return_tensors="pt")["pixel_values"][0]
