"""Weights compared tensor by tensor: identical, or the largest absolute difference."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from plait.errors import UserError
from plait.runs.rundir import RunDir

WHOLE_MODEL_FILES = ("model.safetensors", "init.safetensors")


@dataclass(frozen=True)
class TensorDiff:
    """How one tensor differs between two weight files."""

    name: str
    status: str
    """identical | different | shape | dtype | only_a | only_b"""
    max_abs_diff: float | None = None


def tensor_index(files: list[Path], root: Path) -> dict[str, tuple[Path, str]]:
    """{shown name: (file, key)}: bare keys for a whole-model file (model.safetensors, init.safetensors, or
    a single file), `<file relative to root>:<key>` for the others (a projector, an adapter)."""
    index = {}
    for path in files:
        whole = len(files) == 1 or (path.parent == root and path.name in WHOLE_MODEL_FILES)
        with safe_open(str(path), "pt") as f:
            for key in f.keys():
                index[key if whole else f"{path.relative_to(root)}:{key}"] = (path, key)
    return index


def compare_files(a: list[Path] | Path, b: list[Path] | Path, root_a: Path | None = None,
                  root_b: Path | None = None) -> list[TensorDiff]:
    """Every tensor of two sets of safetensors files, in name order (tensors are read one at a time)."""
    files_a, files_b = ([a] if isinstance(a, Path) else a), ([b] if isinstance(b, Path) else b)
    index_a = tensor_index(files_a, root_a or files_a[0].parent)
    index_b = tensor_index(files_b, root_b or files_b[0].parent)
    out = [TensorDiff(n, "only_a") for n in sorted(index_a.keys() - index_b.keys())]
    out += [TensorDiff(n, "only_b") for n in sorted(index_b.keys() - index_a.keys())]
    with contextlib.ExitStack() as stack:
        handles: dict[Path, Any] = {}

        def tensor(where: tuple[Path, str]) -> torch.Tensor:
            if where[0] not in handles:
                handles[where[0]] = stack.enter_context(safe_open(str(where[0]), "pt"))
            return handles[where[0]].get_tensor(where[1])

        for name in sorted(index_a.keys() & index_b.keys()):
            out.append(_compare(name, tensor(index_a[name]), tensor(index_b[name])))
    return sorted(out, key=lambda d: d.name)


def _compare(name: str, x: torch.Tensor, y: torch.Tensor) -> TensorDiff:
    if x.shape != y.shape:
        return TensorDiff(name, "shape")
    if x.dtype != y.dtype:
        return TensorDiff(name, "dtype")
    if torch.equal(x, y):
        return TensorDiff(name, "identical", 0.0)
    delta = (x.double() - y.double()).abs()
    return TensorDiff(name, "different", float(delta.nan_to_num(nan=float("inf")).max()))


def summary(diffs: list[TensorDiff]) -> dict[str, Any]:
    """Counts, the differing tensors (largest difference first) and the largest difference."""
    differing = sorted((d for d in diffs if d.status != "identical"),
                       key=lambda d: -(d.max_abs_diff if d.max_abs_diff is not None else float("inf")))
    largest = max((d.max_abs_diff for d in differing if d.max_abs_diff is not None), default=0.0)
    return {"tensors": len(diffs), "identical": len(diffs) - len(differing), "largest_abs_diff": largest,
            "differing": [asdict(d) for d in differing]}


def weights_files(run: RunDir, step: int | None) -> list[Path]:
    """The weight files of a run: the final model's (None), as built (0), or a complete checkpoint's."""
    if step is None:
        files = sorted(run.model.rglob("*.safetensors")) if run.model.is_dir() else []
        if not files:
            raise UserError(f"{run.path}: no final model (model/*.safetensors); pick a checkpoint with --step N")
        return files
    if step == 0:
        if not run.init_weights.exists():
            raise UserError(f"{run.path}: no initial weights ({run.init_weights.name}); runs write them with "
                            "train.save_init=true, as plait repro does")
        return [run.init_weights]
    complete = {int(p.name.split("-")[1]): p for p in run.complete_checkpoints()}
    if step not in complete:
        shown = ", ".join(str(s) for s in sorted(complete)) or "none"
        raise UserError(f"--step {step}: {run.path} has no complete checkpoint at that step "
                        f"(complete: {shown}; 0 = initial weights)")
    return [complete[step] / "model.safetensors"]


def describe(result: dict[str, Any], shown: int = 8) -> str:
    """One line: identical, or how many tensors differ and which."""
    if not result["differing"]:
        return f"identical ({result['tensors']} tensors)"
    parts = []
    for d in result["differing"][:shown]:
        value = d["max_abs_diff"]
        parts.append(f"{d['name']} (max |diff| {value:.3g})" if value is not None else f"{d['name']} ({d['status']})")
    more = len(result["differing"]) - shown
    return (f"{len(result['differing'])} of {result['tensors']} tensors differ: " + ", ".join(parts)
            + (f", and {more} more" if more > 0 else ""))
