"""`plait run` with the git family, then `plait export` to a folder GitForCausalLM loads."""

from __future__ import annotations

import json

import torch
from transformers import AutoTokenizer, GitForCausalLM

from plait.cli import main
from plait.runs.rundir import find_runs
from tests.tiny import write_experiment

GIT = {"family": "git", "language": {"config": {
    "model_type": "git", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
    "max_position_embeddings": 64, "vision_config": {"image_size": 16, "patch_size": 8, "hidden_size": 16,
                                                     "intermediate_size": 32, "num_hidden_layers": 1,
                                                     "num_attention_heads": 2}}},
    "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}}}


def test_git_trains_and_exports(tmp_path):
    path = write_experiment(tmp_path, "git", model=GIT, **{"train.lr": 3e-3})
    assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = find_runs([tmp_path / "runs"])
    status = run.status()
    assert status.state == "finished" and status.step == 6
    losses = [json.loads(line)["loss"] for line in run.metrics.read_text().splitlines()
              if json.loads(line)["split"] == "train"]
    assert losses[-1] < losses[0]
    assert main(["export", str(run.path), "--to", str(tmp_path / "export")]) == 0
    git = GitForCausalLM.from_pretrained(tmp_path / "export").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "export")
    ids = torch.tensor([[tokenizer.bos_token_id]])
    logits = git(input_ids=ids, pixel_values=torch.zeros(1, 3, 16, 16)).logits
    assert logits.shape == (1, 5 + 1, len(tokenizer))
