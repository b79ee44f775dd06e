"""Seeding that covers everything built after it, and deterministic algorithms on request.

What the seed covers, and where:
- every component a family builds (encoders, projectors, mappers, added vocabulary rows, LoRA
  adapters, heads): `seed_everything` runs right before `family.build`;
- data order: the Trainer's sampler is seeded with `data_seed` (+ the epoch), see train/loop.py;
- DataLoader workers: each worker is seeded from the (seeded) global generator plus its rank.
"""

from __future__ import annotations

import os

from plait.core.trainer_imports import enable_full_determinism, set_seed

CUBLAS_WORKSPACE = ":4096:8"


def prepare_determinism() -> None:
    """Set the environment deterministic kernels need; must run before the first CUDA matmul.

    cuBLAS reads its workspace setting once, at its first call, so the commands call this before
    anything touches the GPU.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); with `deterministic`, also deterministic kernels."""
    if deterministic:
        prepare_determinism()
        workspace = os.environ["CUBLAS_WORKSPACE_CONFIG"]
        enable_full_determinism(seed, warn_only=False)
        # transformers overwrites the workspace with a smaller one; keep the one cuBLAS may already use
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = workspace
    else:
        set_seed(seed)
