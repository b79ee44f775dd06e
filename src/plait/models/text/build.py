"""Builder of the text family: config -> tokenizer + transformers Auto model of the task's kind + processor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from tokenizers import processors
from torch import nn
from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM,
                          AutoModelForSequenceClassification, AutoTokenizer)

from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.components.freezing import count_parameters, set_trainable
from plait.models.components.loading import load_pretrained, make_config
from plait.models.components.tokenizer import train_tokenizer
from plait.models.family import BuildOptions, Built, Family
from plait.models.text.config import TextModelConfig
from plait.models.text.processor import TextModelProcessor, TextSettings, is_labelled, sample_labels, sample_text

AUTO = {"causal_lm": AutoModelForCausalLM, "masked_lm": AutoModelForMaskedLM,
        "classification": AutoModelForSequenceClassification}
PROBLEM_TYPES = {"single_label": "single_label_classification", "multi_label": "multi_label_classification",
                 "regression": "regression"}
MASK = "<mask>"


def training_texts(samples: list[Sample]) -> list[str]:
    """Every text a tokenizer trained on the corpus should cover (pairs included)."""
    texts = [sample_text(s) for s in samples] + [str(s.meta["text_pair"]) for s in samples if s.meta.get("text_pair")]
    return [t for t in texts if t]


def build_tokenizer(cfg: TextModelConfig, samples: list[Sample]) -> Any:
    """A pretrained tokenizer, or one trained on the training texts with <s> text </s> (pair: <s> a </s> b </s>)."""
    if cfg.tokenizer.train is None:
        tokenizer = load_pretrained(AutoTokenizer, cfg.tokenizer.pretrained or cfg.pretrained, "model.tokenizer")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if cfg.task == "masked_lm" and tokenizer.mask_token is None:
            raise UserError("model.tokenizer: the tokenizer has no mask token, which task masked_lm needs")
        return tokenizer
    t = cfg.tokenizer.train
    tokenizer = train_tokenizer(training_texts(samples), t.kind, t.vocab_size, t.lowercase, [MASK])
    tokenizer.mask_token = MASK
    bos, eos = tokenizer.bos_token, tokenizer.eos_token
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos}:0 $A:0 {eos}:0 $B:1 {eos}:1",
        special_tokens=[(bos, tokenizer.bos_token_id), (eos, tokenizer.eos_token_id)])
    return tokenizer


def class_labels(cfg: TextModelConfig, samples: list[Sample]) -> list[str]:
    """The label names in class-id order: the config's, else the sorted distinct labels of the training samples."""
    if cfg.task != "classification" or cfg.problem == "regression":
        return []
    if cfg.labels is not None:
        return list(cfg.labels)
    if cfg.problem == "multi_label":
        found = {name for s in samples for name in sample_labels(s)}
    else:
        found = {s.target for s in samples if is_labelled(s)}
    if len(found) < (1 if cfg.problem == "multi_label" else 2):
        raise UserError(f"model.labels: the training split has {len(found)} distinct label(s) {sorted(found)}; "
                        "a classifier needs at least 2 (or set model.labels)")
    return sorted(found)


def head_arguments(cfg: TextModelConfig, labels: list[str]) -> dict[str, Any]:
    """from_pretrained/config keys that shape a classification head."""
    if cfg.task != "classification":
        return {}
    num = 1 if cfg.problem == "regression" else len(labels)
    names = labels or ["score"]
    return {"num_labels": num, "problem_type": PROBLEM_TYPES[cfg.problem],
            "id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def build_model(cfg: TextModelConfig, tokenizer: Any, labels: list[str]) -> nn.Module:
    """The Auto model of the task's kind, from its checkpoint or randomly initialised from its config."""
    auto, head = AUTO[cfg.task], head_arguments(cfg, labels)
    if cfg.pretrained:
        return load_pretrained(auto, cfg.pretrained, "model", **head)
    # vocabulary and special ids follow the tokenizer, so a trained one always fits the embedding
    values = {**cfg.config, "vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
              "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, **head}
    config = make_config(values, "model")
    if cfg.task == "causal_lm":
        config.is_decoder = True
    try:
        return auto.from_config(config)
    except ValueError as err:
        raise UserError(f"model.config.model_type: {config.model_type!r} has no {cfg.task} model "
                        f"({str(err).splitlines()[0]})") from None


def check_positions(model: nn.Module, cfg: TextModelConfig) -> None:
    """Refuse a max_length the position embeddings cannot hold (RoBERTa-like models offset by pad id + 1)."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is None:
        return
    offset = (model.config.pad_token_id or 0) + 1 if model.config.model_type in ("roberta", "xlm-roberta") else 0
    if cfg.max_length + offset > limit:
        raise UserError(f"model.max_length: {cfg.max_length} tokens (+{offset} position offset) exceed the model's "
                        f"max_position_embeddings {limit}; lower max_length or raise it in model.config")


def finish(cfg: TextModelConfig, model: nn.Module, tokenizer: Any, labels: list[str]) -> Built:
    """Freezing, generation ids, processor and the facts recorded with the run."""
    check_positions(model, cfg)
    if model.config.pad_token_id is None:  # e.g. GPT-2: its classifier finds each row's last token by padding
        model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model.config, "type_vocab_size", 1) > 1 and "token_type_ids" not in tokenizer.model_input_names:
        tokenizer.model_input_names = [*tokenizer.model_input_names, "token_type_ids"]  # segment ids of pairs
    if cfg.freeze_backbone:
        set_trainable(model.base_model, False)
        expected = count_parameters(model)["total"] - count_parameters(model.base_model)["total"]
        if count_parameters(model)["trainable"] != expected or expected == 0:
            raise RuntimeError(f"freeze_backbone left {count_parameters(model)['trainable']} trainable parameters, "
                               f"expected the head's {expected}")
    if cfg.task == "causal_lm":
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    m = cfg.masking
    settings = TextSettings(cfg.task, cfg.max_length, m.probability, m.mask_replace_prob, m.random_replace_prob,
                            tuple(labels), cfg.problem)
    processor = TextModelProcessor(tokenizer, settings)
    return Built(model, processor, {"parameters": count_parameters(model), "vocab_size": len(tokenizer),
                                    "task": cfg.task, "labels": labels, "class": type(model).__name__})


def build(cfg: TextModelConfig, train_samples: list[Sample]) -> Built:
    """Build from the config; call under the experiment's seed (random weights and heads are drawn from it)."""
    tokenizer = build_tokenizer(cfg, train_samples)
    labels = class_labels(cfg, train_samples)
    return finish(cfg, build_model(cfg, tokenizer, labels), tokenizer, labels)


def save(built: Built, cfg: TextModelConfig, folder: Path) -> None:
    """A plain transformers folder (config, safetensors, tokenizer) plus plait's record of the config."""
    folder.mkdir(parents=True, exist_ok=True)
    built.model.save_pretrained(folder)
    built.processor.save(folder)
    meta = {"family": "text", "model": cfg.model_dump(mode="json"), "task": cfg.task,
            "class": type(built.model).__name__, "labels": list(built.processor.settings.labels)}
    (folder / "plait_model.json").write_text(json.dumps(meta, indent=2))


def load(folder: Path, cfg: TextModelConfig | None = None) -> Built:
    """The saved model, offline; with `cfg` (init_from) the saved weights start a model of cfg's task, a new
    head (e.g. a classifier on a masked-LM run) drawn under the current seed."""
    meta = json.loads((folder / "plait_model.json").read_text())
    saved = TextModelConfig.model_validate(meta["model"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if cfg is None:
        model = AUTO[saved.task].from_pretrained(folder)
        return finish(saved, model, tokenizer, list(meta.get("labels", [])))
    labels = list(cfg.labels or []) if cfg.task == "classification" else []
    if cfg.task == "classification" and cfg.problem != "regression" and not labels:
        if saved.task == "classification" and saved.problem == cfg.problem:
            labels = list(meta.get("labels", []))
        else:
            raise UserError("model.labels: a classifier started from another run (init_from) needs its label "
                            "names, e.g. labels: [negative, positive]")
    kind = AutoConfig.from_pretrained(folder).model_type
    if cfg.task == "masked_lm" and tokenizer.mask_token is None:
        raise UserError(f"init_from: the saved {kind} tokenizer has no mask token, which task masked_lm needs")
    model = AUTO[cfg.task].from_pretrained(folder, **head_arguments(cfg, labels))
    return finish(cfg, model, tokenizer, labels)


def checker(cfg: TextModelConfig) -> Callable[[Sample], str | None]:
    """Classification samples need a known label (or none: unlabelled rows are counted at evaluation)."""
    known = set(cfg.labels or [])

    def check_sample(sample: Sample) -> str | None:
        if cfg.task != "classification" or not is_labelled(sample):
            return None
        if cfg.problem == "regression":
            try:
                float(sample.target)
            except ValueError:
                return "label is not a number"
            return None
        names = sample_labels(sample) if cfg.problem == "multi_label" else [sample.target]
        if known and not set(names) <= known:
            return "label not in model.labels"
        return None

    return check_sample


class TextFamily(Family):
    """Causal LM, masked LM and sequence classification on transformers' Auto classes."""

    name = "text"

    def build(self, cfg: TextModelConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        _no_label_smoothing(options)
        return build(cfg, train_samples)

    def save(self, built: Built, cfg: TextModelConfig, folder: Path) -> None:
        save(built, cfg, folder)

    def load(self, folder: Path, cfg: TextModelConfig | None = None,
             options: BuildOptions = BuildOptions()) -> Built:
        _no_label_smoothing(options)
        return load(folder, cfg)

    def checker(self, cfg: TextModelConfig) -> Callable[[Sample], str | None]:
        return checker(cfg)

    def export(self, folder: Path, target: Path, merge: bool) -> dict[str, Any]:
        from plait.models.text.export import export_model

        return export_model(folder, target)


def _no_label_smoothing(options: BuildOptions) -> None:
    if options.label_smoothing:
        raise UserError("train.label_smoothing: the text family trains with the transformers model's own loss, "
                        "which has no label smoothing; set it to 0")


TEXT = TextFamily()
