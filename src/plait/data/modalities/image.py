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


def pixel_values_many(image_processor: Any, paths: list[Path | None]) -> list[Any]:
    """Several images through one call of a transformers image processor (its argument checks run once, not once
    per image): for each path the very tensor `pixel_values` gives for it alone, or None without an image.

    The processor works image by image (`disable_grouping`: the torchvision backend would otherwise stack equal
    shapes on GPU), and each output is turned into a tensor by the BatchFeature conversion a one-image call
    applies, so values, dtype and strides are those of `pixel_values`, and outputs of different shapes are fine.
    """
    from transformers.feature_extraction_utils import BatchFeature

    out: list[Any] = [None] * len(paths)
    present = [i for i, path in enumerate(paths) if path is not None]
    if not present:
        return out
    images = [load_image(paths[i]) for i in present]
    processed = image_processor(images=images, return_tensors=None, disable_grouping=True)["pixel_values"]
    if not isinstance(processed, (list, tuple)) or len(processed) != len(present):
        # a processor that does not give one entry per image (none of transformers' own): one call per image
        return [pixel_values(image_processor, path) for path in paths]
    for i, value in zip(present, processed):
        out[i] = BatchFeature({"pixel_values": [value]}, tensor_type="pt")["pixel_values"][0]
    return out
