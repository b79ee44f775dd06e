"""Each GLUE metric equals scikit-learn's or scipy's on a fixture; the classify runner scores with them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from pydantic import ValidationError

from plait.config.schema import Experiment
from plait.data.sample import Sample
from plait.errors import UserError
from plait.evaluate.classify import classification_scores, classify
from plait.evaluate.config import EvalConfig
from plait.models.text.build import build
from plait.models.text.config import TextModelConfig
from tests.text_tiny import text_model

TRUTH = np.array([0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1])
PRED = np.array([0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0])


def test_binary_metrics_equal_sklearn():
    got = classification_scores(["accuracy", "f1", "matthews_correlation"], TRUTH, PRED, "single_label", 2)
    assert got["accuracy"] == pytest.approx(100 * skm.accuracy_score(TRUTH, PRED))
    assert got["f1"] == pytest.approx(100 * skm.f1_score(TRUTH, PRED))
    assert got["matthews_correlation"] == pytest.approx(100 * skm.matthews_corrcoef(TRUTH, PRED))


def test_three_class_f1_is_macro_and_regression_uses_scipy():
    truth, pred = np.array([0, 1, 2, 2, 1, 0, 2]), np.array([0, 2, 2, 1, 1, 0, 2])
    got = classification_scores(["f1", "accuracy"], truth, pred, "single_label", 3)
    assert got["f1"] == pytest.approx(100 * skm.f1_score(truth, pred, average="macro"))
    scores, guesses = np.array([0.0, 1.2, 3.4, 5.0, 2.2, 4.1]), np.array([0.3, 1.0, 2.9, 4.2, 2.8, 4.4])
    got = classification_scores(["pearson", "spearmanr"], scores, guesses, "regression", 1)
    assert got["pearson"] == pytest.approx(100 * stats.pearsonr(scores, guesses)[0])
    assert got["spearmanr"] == pytest.approx(100 * stats.spearmanr(scores, guesses)[0])


def test_a_metric_that_does_not_fit_the_head_is_refused():
    with pytest.raises(UserError, match="pearson does not apply to a single_label"):
        classification_scores(["pearson"], TRUTH, PRED, "single_label", 2)
    with pytest.raises(ValidationError, match="not computed by task classify"):
        Experiment.model_validate({"name": "x", "model": text_model("classification"),
                                   "eval": {"task": "classify", "metrics": ["bleu"]}})
    with pytest.raises(ValidationError, match="a classification text model is evaluated by classify, not perplexity"):
        Experiment.model_validate({"name": "x", "model": text_model("classification"), "eval": {"task": "perplexity"}})
    exp = Experiment.model_validate({"name": "x", "model": text_model("masked_lm")})
    assert (exp.eval.task, exp.eval.metrics) == ("perplexity", ["perplexity", "loss"])


def test_classify_scores_labelled_samples_and_counts_the_rest():
    samples = [Sample(id=str(i), prompt=f"the cat {'sees' if i % 2 else 'likes'} a dog {i % 3}",
                      target=["no", "yes"][i % 2] if i < 10 else "", meta={"text_pair": "the bird"})
               for i in range(13)]
    built = build(TextModelConfig.model_validate(text_model("classification", labels=["no", "yes"])), samples[:10])
    cfg = EvalConfig(task="classify", metrics=["accuracy", "f1", "matthews_correlation"], batch_size=4)
    result, predictions = classify(built, samples, cfg, progress=False)
    assert len(predictions) == 13 and set(predictions) <= {"no", "yes"}
    truth = [s.target for s in samples[:10]]
    assert result["values"]["accuracy"] == pytest.approx(100 * skm.accuracy_score(truth, predictions[:10]))
    assert result["values"]["f1"] == pytest.approx(100 * skm.f1_score(truth, predictions[:10], pos_label="yes",
                                                                       zero_division=0))
    assert result["coverage"] == {"evaluated": 10, "left_out": {"no label": 3}, "truncated": 0}


def test_a_label_the_model_has_no_class_for_is_left_out_and_counted():
    """A held-out label no training sample had (nor model.labels) cannot be scored against the model's classes."""
    samples = [Sample(id=str(i), prompt=f"the cat {'sees' if i % 2 else 'likes'} a dog", target=["no", "yes"][i % 2])
               for i in range(8)]
    built = build(TextModelConfig.model_validate(text_model("classification")), samples)
    held_out = samples[:5] + [Sample(id="m", prompt="the cat sees a bird", target="maybe")]
    cfg = EvalConfig(task="classify", metrics=["accuracy"], batch_size=4)
    result, predictions = classify(built, held_out, cfg, progress=False)
    assert len(predictions) == 6
    truth = [s.target for s in held_out[:5]]
    assert result["values"]["accuracy"] == pytest.approx(100 * skm.accuracy_score(truth, predictions[:5]))
    assert result["coverage"]["evaluated"] == 5
    assert result["coverage"]["left_out"] == {"label unknown to the model": 1}
    unknown, _ = classify(built, held_out[5:], cfg, progress=False)
    assert "no sample has a label the model knows" in unknown["note"]
