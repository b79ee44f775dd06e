"""The seed reaches everything: every built tensor (added vocabulary rows and LoRA adapters included),
data order, and random work in DataLoader workers; `deterministic` switches on deterministic kernels."""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import Dataset
from transformers import Trainer

from plait.config.schema import Experiment
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.train.config import TrainConfig
from plait.train.loop import training_arguments
from plait.train.seed import CUBLAS_WORKSPACE, seed_everything
from tests.tiny import tiny


@pytest.fixture(scope="module")
def exp():
    # a language config smaller than the tokenizer, so rows are added; a LoRA adapter on the language model
    return Experiment.model_validate(tiny(**{"model.language.config.vocab_size": 16,
                                             "model.language.lora": {"r": 2, "target_modules": ["q_proj"]}}))


@pytest.fixture(scope="module")
def train_samples(exp):
    return prepare_data(exp, dry_run=False).splits["train"]


def build(exp, samples, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(1234 + seed * 7)  # whatever state the global generator was left in must not matter
    seed_everything(seed)
    model = get_family(exp.model.family).build(exp.model, samples, BuildOptions()).model
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_same_seed_builds_identical_tensors_everywhere(exp, train_samples):
    first, second = build(exp, train_samples, 0), build(exp, train_samples, 0)
    assert first.keys() == second.keys()
    assert [k for k in first if not torch.equal(first[k], second[k])] == []
    assert any("lora_A" in k for k in first)
    embeddings = next(v for k, v in first.items() if k.endswith("embed_tokens.weight"))
    assert embeddings.shape[0] > 16  # rows were added for the tokenizer's extra tokens


def test_different_seed_changes_every_random_part(exp, train_samples):
    first, other = build(exp, train_samples, 0), build(exp, train_samples, 1)
    differing = {k for k in first if not torch.equal(first[k], other[k])}
    for part in ("vision.", "projector.", "lora_A", "embed_tokens"):
        assert any(part in k for k in differing), part


class Indexed(Dataset):
    """Items carry their index and a random draw, like a random augmentation in a worker."""

    def __len__(self) -> int:
        return 24

    def __getitem__(self, index: int) -> dict:
        return {"index": index, "noise": torch.rand(()).item()}


def loader_items(tmp_path, seed: int, workers: int = 0, disturb: bool = False) -> list[tuple[int, float]]:
    """(index, worker draw) of every item of the Trainer's training DataLoader, in order."""
    torch.seed()  # entropy before the Trainer: it seeds the global generator itself
    cfg = TrainConfig(batch_size=4, num_workers=workers, max_steps=6)
    trainer = Trainer(model=torch.nn.Linear(1, 1), args=training_arguments(cfg, tmp_path, 6, seed, False),
                      train_dataset=Indexed(), data_collator=lambda batch: batch)
    if disturb:
        torch.seed()  # the sampler has its own generator (data_seed + epoch): order must not move
    return [(item["index"], item["noise"]) for batch in trainer.get_train_dataloader() for item in batch]


def test_data_order_follows_the_data_seed_only(tmp_path):
    order = [i for i, _ in loader_items(tmp_path, 0)]
    assert sorted(order) == list(range(24)) and order != list(range(24))
    assert [i for i, _ in loader_items(tmp_path, 0, disturb=True)] == order
    assert [i for i, _ in loader_items(tmp_path, 1)] != order
    assert [i for i, _ in loader_items(tmp_path, 0, workers=2, disturb=True)] == order  # workers change where, not what


def test_random_work_in_workers_follows_the_seed(tmp_path):
    draws = [n for _, n in loader_items(tmp_path, 0, workers=2)]
    assert len(set(draws)) == 24
    assert [n for _, n in loader_items(tmp_path, 0, workers=2)] == draws
    assert [n for _, n in loader_items(tmp_path, 1, workers=2)] != draws


def test_deterministic_switches_on_deterministic_algorithms(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    for name in ("CUDA_LAUNCH_BLOCKING", "ASCEND_LAUNCH_BLOCKING", "HCCL_DETERMINISTIC", "FLASH_ATTENTION_DETERMINISTIC"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    try:
        seed_everything(3, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        first = torch.rand(3)
        seed_everything(3, deterministic=True)
        assert torch.equal(torch.rand(3), first)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
