"""Multiple choice is an evaluation task of every generative family: validation accepts it, and a tiny projector
model is scored by parsing and by likelihood on ScienceQA-format samples."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from plait.config.schema import Experiment
from plait.data.sources.scienceqa import read_scienceqa
from plait.evaluate.multiple_choice import evaluate_multiple_choice
from plait.models.registry import capabilities, get_family
from tests.tiny import tiny

SCIENCEQA = {"kind": "scienceqa", "builtin": {"train_size": 12, "validation_size": 2, "test_size": 6,
                                              "image_size": 16}, "prompt_format": "QCM-A"}


@pytest.mark.parametrize("family", ["projector", "mapper", "adapter"])
def test_every_generative_family_declares_multiple_choice(family):
    assert "multiple_choice" in capabilities(family).eval_tasks


def test_validation_fills_the_task_metrics_and_refuses_others():
    exp = Experiment.model_validate(tiny(**{"data.source": SCIENCEQA, "eval.task": "multiple_choice",
                                            "eval.metrics": None}))
    assert exp.eval.metrics == ["accuracy"] and exp.eval.headline == "accuracy"
    assert list(exp.eval.multiple_choice.categories)[-1] == "Average"
    with pytest.raises(ValidationError, match="eval.metrics: .*bleu.* not computed by task multiple_choice"):
        Experiment.model_validate(tiny(**{"data.source": SCIENCEQA, "eval.task": "multiple_choice"}))


@pytest.mark.parametrize("method", ["parse", "likelihood"])
def test_a_projector_model_is_scored_by_category(method):
    exp = Experiment.model_validate(tiny(**{"data.source": SCIENCEQA, "eval.task": "multiple_choice",
                                            "eval.metrics": None, "eval.multiple_choice.method": method}))
    splits = read_scienceqa(exp.data.source)
    torch.manual_seed(0)
    from plait.models.family import BuildOptions

    built = get_family("projector").build(exp.model, splits["train"], BuildOptions())
    result, predictions = evaluate_multiple_choice(built, splits["test"], exp.eval, 6, progress=False)
    chosen = [x["choice"] for x in result["per_sample"]]
    assert len(predictions) == 6 and result["categories"]["Average"]["total"] == 6
    assert result["unparsable"] == sum(c is None for c in chosen)
    if method == "likelihood":
        assert result["unparsable"] == 0 and all(p.startswith("The answer is ") for p in predictions)
    correct = sum(c == x["answer"] for c, x in zip(chosen, result["per_sample"]))
    assert result["values"]["accuracy"] == pytest.approx(100 * correct / 6)


def test_an_encoder_decoder_is_scored_by_likelihood_without_shifting(tmp_path):
    """The mapper's logits line up with its labels (seq2seq): the likeliest option is the one a hand
    computation over the same logits picks."""
    from dataclasses import replace

    from mapper_data import TINY_T5, npy_samples

    from plait.evaluate.config import EvalConfig
    from plait.models.family import BuildOptions
    from plait.models.mapper.config import MapperModelConfig

    cfg = MapperModelConfig.model_validate({"family": "mapper", "backbone": {"config": TINY_T5},
                                            "tokenizer": {"train": {"kind": "wordlevel"}}, "dropout": 0.0})
    choices = ["red", "blue", "green"]
    samples = [replace(s, meta={"choices": choices, "answer": i % 3, "fields": {}})
               for i, s in enumerate(npy_samples(tmp_path, ["The answer is A.", "The answer is B.", "The answer is C."]))]
    torch.manual_seed(0)
    built = get_family("mapper").build(cfg, samples, BuildOptions())
    eval_cfg = EvalConfig(task="multiple_choice", metrics=["accuracy"], headline="accuracy",
                          multiple_choice={"method": "likelihood"})
    result, _ = evaluate_multiple_choice(built, samples, eval_cfg, 6, progress=False)
    p = built.processor
    built.model.eval()
    for sample, row in zip(samples, result["per_sample"]):
        scores = []
        for letter in "ABC":
            batch = p.collate([p.encode_train(replace(sample, target=f"The answer is {letter}."))])
            with torch.no_grad():
                logp = torch.log_softmax(built.model(**batch).logits, -1)
            labels = batch["labels"]
            scores.append(float(logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0][labels != -100].sum()))
        assert row["choice"] == max(range(3), key=scores.__getitem__)
