"""Capture the environment a run ran in: packages, git commit, host, devices, command line."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = (
    "plait", "torch", "transformers", "accelerate", "peft", "bitsandbytes", "datasets", "tokenizers",
    "safetensors", "sacrebleu", "numpy", "pillow", "optuna", "submitit", "ray", "pose-format",
)


def capture_env(seed: int, argv: list[str] | None = None) -> dict[str, Any]:
    """Everything needed to tell two runs' environments apart."""
    import torch

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    devices: dict[str, Any] = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        devices["cuda"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        devices["cuda_version"] = torch.version.cuda
    return {
        "packages": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "devices": devices,
        "git": git_state(Path.cwd()),
        "seed": seed,
        "command": argv if argv is not None else sys.argv,
        "cwd": str(Path.cwd()),
    }


def git_state(folder: Path) -> dict[str, Any] | None:
    """The commit and whether the tree had uncommitted changes, or None outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}
