"""Saved configs read back with today's defaults, so keys added since are not reported as changes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved experiment with the defaults of keys added since it was written (as written if it no longer validates)."""
    from plait.config.schema import Experiment

    try:
        return Experiment.model_validate(saved).model_dump(mode="json")
    except ValidationError:
        return saved  # keys this version no longer knows are compared as written, and show up as changes
