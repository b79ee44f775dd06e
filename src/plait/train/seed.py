"""Seeding that covers everything built after it, and deterministic algorithms on request."""

from __future__ import annotations

import os

from transformers import enable_full_determinism, set_seed


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); with `deterministic`, also deterministic kernels.

    The cuBLAS workspace variable must be set before CUDA initialises, so call this first thing.
    """
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        enable_full_determinism(seed, warn_only=False)
    else:
        set_seed(seed)
