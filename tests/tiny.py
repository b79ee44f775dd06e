"""Tiny experiments for tests: a few thousand parameters, a few dozen samples, seconds to train."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 0,
    "model": {
        "family": "projector",
        "vision": {
            "config": {"model_type": "clip_vision_model", "image_size": 16, "patch_size": 8, "hidden_size": 16,
                       "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "projection_dim": 16},
            "feature": "patch", "layer": -1, "freeze": True,
        },
        "projector": {"kind": "mlp", "layers": 2},
        "language": {"config": {"model_type": "llama", "hidden_size": 16, "intermediate_size": 32,
                                "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
                                "max_position_embeddings": 64}},
        "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}},
    },
    "data": {"source": {"kind": "builtin", "name": "shapes", "task": "qa", "train_size": 48,
                        "validation_size": 8, "test_size": 16, "image_size": 16}},
    "train": {"max_steps": 6, "batch_size": 8, "lr": 1e-3, "log_every": 2},
    "eval": {"splits": ["test"], "metrics": ["exact_match", "bleu", "chrf"]},
}


def tiny(**updates: Any) -> dict[str, Any]:
    """A copy of TINY with dotted-key updates applied (e.g. {"train.max_steps": 3})."""
    out = copy.deepcopy(TINY)
    for key, value in updates.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def write_experiment(folder: Path, name: str = "tiny", **updates: Any) -> Path:
    """Write a tiny experiment YAML (output_dir inside `folder`) and return its path."""
    data = tiny(**updates)
    data["name"] = name
    data.setdefault("output_dir", str(folder / "runs"))
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# a short run whose loss curve a data-parallel launch (torchrun, Ray Train) must reproduce: its answers have
# different lengths, and the loss is normalised by the target tokens of the global batch (token_loss), so two
# ranks with half batches give the loss and gradient of one process with the whole batch
DATA_PARALLEL = {"train.max_steps": 4, "train.log_every": 1, "eval.splits": ["test"], "data.source.test_size": 4}


def train_curve(run: Any) -> list[tuple[int, float, float]]:
    """(step, loss, grad norm) of every logged training step of a run directory."""
    from plait.runs import atomic

    return [(r["step"], r["loss"], r["grad_norm"]) for r in atomic.read_jsonl(run.metrics) if r.get("split") == "train"]


def tiny_run_curve(folder: Path, **updates: Any) -> list[tuple[int, float, float]]:
    """Run the tiny experiment with `updates` in `folder` (made if need be); its logged training curve."""
    from plait.cli import main
    from plait.runs.rundir import RunDir

    folder.mkdir(parents=True, exist_ok=True)
    assert main(["run", str(write_experiment(folder, "tiny", **updates)), "--no-progress"]) == 0
    [run] = (folder / "runs" / "tiny").iterdir()
    return train_curve(RunDir(run))


def assert_same_curve(run: Any, reference: Any) -> None:
    """The two runs logged the same steps with the same loss and grad norm, to float32 rounding."""
    import pytest

    ours, theirs = train_curve(run), train_curve(reference)
    assert [s for s, _, _ in ours] == [s for s, _, _ in theirs] and ours
    for (_, loss, norm), (_, ref_loss, ref_norm) in zip(ours, theirs):
        assert loss == pytest.approx(ref_loss, rel=1e-5) and norm == pytest.approx(ref_norm, rel=1e-4)
