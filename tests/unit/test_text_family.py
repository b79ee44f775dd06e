"""The text family: build, save/load, init_from into a classifier (head under the seed), export, config errors."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSequenceClassification

from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.text.build import build, load, save
from plait.models.text.config import TextModelConfig
from plait.models.text.export import export_model
from tests.text_tiny import BERT, corpus, text_model

PAIRS = [Sample(id=str(i), prompt="the cat sees a dog", target=["no", "yes"][i % 2], meta={"text_pair": "a bird"})
         for i in range(4)]


def _batch(built, samples):
    return built.processor.collate([built.processor.encode_train(s) for s in samples])


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlm") / "model"
    cfg = TextModelConfig.model_validate(text_model("masked_lm"))
    save(build(cfg, corpus()), cfg, folder)
    return folder


def test_classifier_from_a_masked_lm_run_keeps_the_encoder_and_draws_the_head_from_the_seed(mlm_folder):
    cls = TextModelConfig.model_validate(text_model("classification", labels=["no", "yes"]))
    torch.manual_seed(3)
    first = load(mlm_folder, cls)
    torch.manual_seed(3)
    again = load(mlm_folder, cls)
    torch.manual_seed(4)
    other = load(mlm_folder, cls)
    saved = AutoModelForMaskedLM.from_pretrained(mlm_folder)
    assert torch.equal(first.model.bert.embeddings.word_embeddings.weight, saved.bert.embeddings.word_embeddings.weight)
    assert torch.equal(first.model.classifier.weight, again.model.classifier.weight)
    assert not torch.equal(first.model.classifier.weight, other.model.classifier.weight)
    assert first.model.config.id2label == {0: "no", 1: "yes"}
    batch = _batch(first, PAIRS)
    assert batch["labels"].tolist() == [0, 1, 0, 1] and (batch["token_type_ids"][0] == 1).any()


def test_init_from_needs_label_names_for_a_new_classifier(mlm_folder):
    cls = TextModelConfig.model_validate(text_model("classification"))
    with pytest.raises(UserError, match="model.labels: a classifier started from another run"):
        load(mlm_folder, cls)


@pytest.mark.parametrize("task, auto", [("causal_lm", AutoModelForCausalLM), ("masked_lm", AutoModelForMaskedLM),
                                        ("classification", AutoModelForSequenceClassification)])
def test_export_loads_in_plain_transformers_with_the_same_outputs(task, auto, tmp_path):
    samples = PAIRS if task == "classification" else corpus()
    cfg = TextModelConfig.model_validate(text_model(task))
    built = build(cfg, samples)
    save(built, cfg, tmp_path / "model")
    record = export_model(tmp_path / "model", tmp_path / "export")
    assert record["auto_class"] == auto.__name__
    plain = auto.from_pretrained(tmp_path / "export").eval()
    ours = load(tmp_path / "model").model.eval()
    batch = {k: v for k, v in _batch(built, samples[:3]).items() if k != "labels"}
    with torch.no_grad():
        torch.testing.assert_close(plain(**batch).logits, ours(**batch).logits)
        torch.testing.assert_close(plain(**batch).logits, built.model.eval()(**batch).logits)
    assert not (tmp_path / "export" / "plait_model.json").exists()


def test_freeze_backbone_trains_only_the_head():
    cfg = TextModelConfig.model_validate(text_model("classification", freeze_backbone=True))
    model = build(cfg, PAIRS).model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.weight", "classifier.bias"}


def test_config_errors_name_the_field():
    with pytest.raises(ValidationError, match="exactly one of `pretrained`"):
        TextModelConfig.model_validate({**text_model("causal_lm"), "pretrained": "some/model"})
    with pytest.raises(ValidationError, match="labels/problem: only for task classification"):
        TextModelConfig.model_validate(text_model("masked_lm", labels=["a", "b"]))
    with pytest.raises(ValidationError, match="mask_replace_prob \\+ random_replace_prob"):
        TextModelConfig.model_validate(text_model("masked_lm", masking={"mask_replace_prob": 0.9,
                                                                         "random_replace_prob": 0.2}))
    with pytest.raises(ValidationError, match="max_length: 100 tokens exceed config.max_position_embeddings 64"):
        TextModelConfig.model_validate(text_model("masked_lm", max_length=100))
    # RoBERTa's positions start after the padding id: 64 positions hold fewer than 64 tokens, found at build time
    roberta = {**BERT, "model_type": "roberta"}
    with pytest.raises(UserError, match="model.max_length: 64 tokens \\(\\+[0-9]+ position offset\\) exceed"):
        build(TextModelConfig.model_validate(text_model("masked_lm", roberta, max_length=64)), corpus())


def test_multi_label_targets_become_multi_hot_float_labels_scored_with_micro_f1():
    from sklearn.metrics import f1_score

    from plait.evaluate.classify import classify
    from plait.evaluate.config import EvalConfig

    samples = [Sample(id=str(i), prompt=f"the cat {i}", target=t) for i, t in
               enumerate(["a,b", "b", "c", "a,c", "b,c", "a"])]
    cfg = TextModelConfig.model_validate(text_model("classification", problem="multi_label"))
    built = build(cfg, samples)
    assert built.processor.settings.labels == ("a", "b", "c")
    batch = _batch(built, samples[:2])
    assert batch["labels"].dtype == torch.float32 and batch["labels"].tolist() == [[1, 1, 0], [0, 1, 0]]
    result, predictions = classify(built, samples, EvalConfig(task="classify", metrics=["f1"]), progress=False)
    truth = [[n in s.target.split(",") for n in "abc"] for s in samples]
    guess = [[n in p.split(",") for n in "abc"] for p in predictions]
    assert result["values"]["f1"] == pytest.approx(100 * f1_score(truth, guess, average="micro", zero_division=0))


def test_a_causal_text_model_generates_from_prompts():
    from plait.evaluate.generate import generate

    built = build(TextModelConfig.model_validate(text_model("causal_lm")), corpus())
    prompts = [Sample(id="0", prompt="the cat", target="sees"), Sample(id="1", prompt="a big red dog", target="x")]
    out = generate(built.model, built.processor, prompts, max_new_tokens=3, progress=False)
    assert len(out) == 2 and all(isinstance(o, str) for o in out)


def test_coverage_counts_texts_longer_than_max_length():
    from plait.evaluate.config import EvalConfig
    from plait.evaluate.perplexity import perplexity

    samples = corpus()
    built = build(TextModelConfig.model_validate(text_model("masked_lm")), samples)
    long = Sample(id="long", prompt="", target=" ".join(["cat"] * 60))
    result, _ = perplexity(built, [*samples[:3], long], EvalConfig(task="perplexity", metrics=["perplexity"]),
                           progress=False)
    assert result["coverage"] == {"evaluated": 4, "left_out": {}, "truncated": 1}
