"""plait: declare a multimodal experiment once; run, evaluate, sweep, audit and compare it."""

__version__ = "0.1.0"
