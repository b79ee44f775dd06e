"""Load an experiment: plait.core.loader's document loading, overrides and validation, with the Experiment schema."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from plait.core.loader import (  # noqa: F401  (the loader's public names, re-exported for callers of config.load)
    Override,
    apply_overrides,
    as_overrides,
    deep_merge,
    default_name,
    format_errors,
    load_document,
    load_raw,
    parse_overrides,
    validate,
    with_overrides,
)

if TYPE_CHECKING:
    from plait.config.schema import Experiment


def load_experiment(spec: str | Path, overrides: list[str] | list[Override] | None = None) -> "Experiment":
    """Load, merge, override and validate an experiment; raise ConfigError listing every problem."""
    from plait.config.schema import Experiment

    raw, source, base_dir = load_raw(spec)
    raw.setdefault("name", default_name(spec))
    output = raw.get("output_dir")
    if isinstance(output, str) and not Path(output).is_absolute():
        # written in the file: relative to the file, as every path there; a --set value has no file and stays
        # relative to the working directory
        raw["output_dir"] = str(base_dir / output)
    return validate(Experiment, raw, source, as_overrides(overrides), base_dir)
