"""Experiments: schema, loading (YAML, extends, overrides, file.py:function) and error reporting."""

from __future__ import annotations

from typing import Any


def load_experiment(*args: Any, **kwargs: Any) -> Any:
    """See plait.config.load.load_experiment (imported lazily: config sections import plait.core.strict)."""
    from plait.config.load import load_experiment as load

    return load(*args, **kwargs)
