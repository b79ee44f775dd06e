"""Experiments: schema, loading (YAML, extends, overrides, file.py:function) and error reporting."""

from plait.config.load import load_experiment
from plait.config.schema import Experiment

__all__ = ["Experiment", "load_experiment"]
