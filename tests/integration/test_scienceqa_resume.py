"""An adapter-family run SIGKILLed mid-training and resumed ends bit-identical to an uninterrupted one
(adapter dropout on, so the restored RNG state matters)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from tests.integration.test_resume import final_weights, killed_run, run_cli, train_losses
from tests.tiny_adapter import tiny_model

pytestmark = pytest.mark.slow


def experiment(folder: Path) -> Path:
    data = {"name": "sqa-resume", "seed": 0, "output_dir": str(folder / "runs"),
            "model": tiny_model(dropout="0.3:0.1:0.5"),
            "data": {"source": {"kind": "scienceqa", "prompt_format": "QCM-A",
                                "builtin": {"train_size": 32, "validation_size": 2, "test_size": 6, "image_size": 16}}},
            "train": {"epochs": 2, "batch_size": 4, "grad_accum": 2, "lr": 1e-2, "save_every": 1, "log_every": 1,
                      "keep_checkpoints": 2},
            "eval": {"task": "multiple_choice", "max_new_tokens": 6}}
    path = folder / "sqa-resume.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_killed_and_resumed_equals_uninterrupted(tmp_path):
    exp = experiment(tmp_path)
    reference = run_cli(str(exp))
    run = killed_run(exp, "training_step", 11)  # inside optimizer step 6 of 8, after its first micro-batch
    run_cli(str(exp), "--resume", str(run.path))
    ours, theirs = final_weights(run), final_weights(reference)
    assert ours.keys() == theirs.keys() and any(k.startswith("adapter.safetensors") for k in ours)
    assert [k for k in ours if not torch.equal(ours[k], theirs[k])] == []
    assert train_losses(run) == train_losses(reference)
    assert run.status().state == "finished" and run.status().step == 8
    assert run.eval_result("test")["categories"] == reference.eval_result("test")["categories"]
