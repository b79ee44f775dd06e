"""Evaluation task `perplexity` for the image, pose and feature families: exp of the mean cross-entropy of each sample's target
tokens given its prompt and image, summed over batches exactly as one batch of the whole split gives it."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from plait.config.schema import Experiment
from plait.data.dataset import load_splits
from plait.data.sample import Sample
from plait.evaluate.config import EvalConfig
from plait.evaluate.perplexity import perplexity
from plait.models.components.loss import token_loss
from plait.models.family import BuildOptions, get_family
from plait.train.seed import seed_everything
from tests.tiny_families import FLAMINGO, GIT
from tests.mapper_data import TINY_T5, npy_samples
from tests.tiny import tiny
from tests.tiny_adapter import tiny_model

MODELS = {
    "projector": None,  # tests.tiny's own model
    "flamingo": FLAMINGO,
    "git": GIT,
    "adapter": tiny_model(),
    "mapper": {"family": "mapper", "backbone": {"config": TINY_T5}, "tokenizer": {"train": {"kind": "wordlevel"}},
               "dropout": 0.0},
}


def built_and_samples(family: str, folder) -> tuple[object, list[Sample]]:
    updates = {"model": MODELS[family]} if MODELS[family] else {}
    exp = Experiment.model_validate(tiny(**updates, **{"eval.task": "perplexity", "eval.metrics": None}))
    if family == "mapper":  # feature sequences -> text
        samples = npy_samples(folder, ["a red square", "the blue circle", "one green star", "a red circle", "two"])
        seed_everything(0)
        return get_family(family).build(exp.model, samples, BuildOptions()), samples
    splits = load_splits(exp.data, seed=0)
    seed_everything(0)
    built = get_family(family).build(exp.model, splits["train"], BuildOptions())
    samples = splits["test"][:5]
    text_only = Sample(id="text", prompt="", target=samples[0].target, media=None)
    return built, samples + ([text_only] if family != "projector" else [])


@pytest.mark.parametrize("family", list(MODELS))
def test_perplexity_is_exp_of_the_mean_target_token_loss(family, tmp_path):
    built, samples = built_and_samples(family, tmp_path)
    built.model.eval()
    whole = built.processor.collate([built.processor.encode_train(s) for s in samples])
    with torch.no_grad():
        logits = built.model(**whole).logits
    labels, shift = whole["labels"], built.model.label_shift  # causal: 1; the mapper's encoder-decoder: 0
    logits, labels = (logits[:, :-1], labels[:, 1:]) if shift else (logits, labels)
    expected = float(token_loss(logits, labels))  # the mean over every target token of the split
    count = int((labels != -100).sum())
    result, shown = perplexity(built, samples, EvalConfig(task="perplexity", metrics=["perplexity", "loss"],
                                                          batch_size=2), progress=False)
    assert result["tokens"] == count > 0
    assert result["values"]["loss"] == pytest.approx(expected, rel=1e-5)
    assert result["values"]["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    assert result["signatures"]["perplexity"].startswith("perplexity|exp(mean token loss)|targets|")
    assert len(shown) == len(samples) and all(float(v) > 0 for v in shown)


def test_git_logits_line_up_with_the_text(tmp_path):
    built, samples = built_and_samples("git", tmp_path)
    batch = built.processor.collate([built.processor.encode_train(s) for s in samples[:2]])
    assert built.model(**batch).logits.shape[1] == batch["input_ids"].shape[1]


@pytest.mark.parametrize("family", ["projector", "mapper", "adapter", "flamingo", "git", "text"])
def test_every_family_declares_perplexity(family):
    from plait.models.registry import capabilities

    assert "perplexity" in capabilities(family).eval_tasks


def test_validation_fills_the_metrics_of_perplexity_and_refuses_others():
    exp = Experiment.model_validate(tiny(**{"eval.task": "perplexity", "eval.metrics": None}))
    assert exp.eval.metrics == ["perplexity", "loss"] and exp.eval.headline == "perplexity"
    with pytest.raises(ValidationError, match="eval.metrics: .*bleu.* not computed by task perplexity"):
        Experiment.model_validate(tiny(**{"eval.task": "perplexity", "eval.metrics": ["bleu"]}))
