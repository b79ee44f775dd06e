"""Checks of an experiment's model that need transformers but no weights, run before any run directory exists.

Every `pretrained`/`config` component of the model config (found by walking it, whatever the family) is
checked: a `config` mapping is instantiated with transformers' own config class (`AutoConfig.for_model`,
which also runs the class's validators, e.g. hidden size divisible by the heads for Llama), then checked
for what transformers only warns about (a vocabulary of size <= 0) or leaves to the first forward pass
(heads that do not divide the hidden size, for the classes that do not check it). A `pretrained` name
must be a local folder, or be in the Hugging Face cache when the hub is offline (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from plait.errors import ConfigError
from plait.models.components.config import Component

# (hidden-size attribute, heads attribute) pairs of transformers configs
HEADS = (("hidden_size", "num_attention_heads"), ("d_model", "encoder_attention_heads"),
         ("d_model", "decoder_attention_heads"), ("d_model", "num_heads"), ("n_embd", "n_head"))


def is_component(value: Any) -> bool:
    """A Component, or a section shaped like one (`pretrained` and `config` fields: the text family's model,
    GIT's replacement encoder)."""
    return isinstance(value, Component) or (isinstance(value, BaseModel)
                                            and {"pretrained", "config"} <= set(type(value).model_fields))


def components(model: BaseModel, prefix: str = "model") -> Iterator[tuple[str, Any]]:
    """(dotted key, component) of every pretrained-or-config component in a model config (the model section
    itself when it is one)."""
    if prefix == "model" and is_component(model):
        yield prefix, model
    for name in type(model).model_fields:
        value = getattr(model, name)
        if is_component(value):
            yield f"{prefix}.{name}", value
        if isinstance(value, BaseModel):
            yield from components(value, f"{prefix}.{name}")


def check_model(model: BaseModel) -> None:
    """ConfigError listing every component whose config or checkpoint cannot work."""
    problems = [p for key, part in components(model) for p in component_problems(key, part)]
    if problems:
        raise ConfigError(*problems)


def component_problems(key: str, part: Any) -> list[str]:
    """Why this component cannot be built or loaded (empty: it can, as far as can be told without weights)."""
    if part.config is not None:
        return config_problems(key, part.config, getattr(part, "role", ""))
    if part.pretrained is not None:
        return checkpoint_problems(key, part.pretrained)
    return []


def config_problems(key: str, config: dict[str, Any], role: str = "") -> list[str]:
    """The config mapping instantiated by transformers, and what transformers leaves unchecked; with a `role`,
    that the model type can play it (see role_problem)."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    values = dict(config)
    model_type = values.pop("model_type")
    if model_type not in CONFIG_MAPPING_NAMES:
        near = sorted(t for t in CONFIG_MAPPING_NAMES if str(model_type)[:3].lower() in t)[:5]
        return [f"{key}.config.model_type: {model_type!r} is not a transformers model type"
                + (f" (similar: {', '.join(near)})" if near else "")]
    try:
        with _quiet():
            built = AutoConfig.for_model(model_type, **values)
    except Exception as err:  # noqa: BLE001  (transformers raises ValueError, TypeError or its own validation error)
        return [f"{key}.config: transformers' {model_type} config refuses it: {_last_line(err)}"]
    problems = []
    for name in dir(built):
        if name.endswith("vocab_size") and isinstance(getattr(built, name, None), int) and getattr(built, name) <= 0:
            problems.append(f"{key}.config.{name}: must be > 0, got {getattr(built, name)}")
    aliases = getattr(built, "attribute_map", {})  # e.g. m2m_100's num_attention_heads is encoder_attention_heads
    for size, heads in HEADS:
        if size in aliases or heads in aliases:
            continue
        hidden, count = getattr(built, size, None), getattr(built, heads, None)
        if isinstance(hidden, int) and isinstance(count, int):
            if count <= 0:
                problems.append(f"{key}.config.{heads}: must be > 0, got {count}")
            elif hidden % count:
                problems.append(f"{key}.config.{heads}: {count} heads do not divide {size} {hidden}")
    role_line = role_problem(key, model_type, built, role)
    return problems + ([role_line] if role_line else [])


# the head each text role needs, by the names of transformers' Auto mappings
ROLE_HEADS = {"causal_lm": ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "causal LM head", "llama, opt, gpt2"),
              "masked_lm": ("MODEL_FOR_MASKED_LM_MAPPING_NAMES", "masked LM head", "bert, roberta, distilbert"),
              "classification": ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES", "sequence classification "
                                 "head", "bert, roberta, gpt2"),
              "seq2seq": ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES", "encoder-decoder with an LM head",
                          "t5, mt5, bart, mbart, m2m_100, marian")}


def role_problem(key: str, model_type: str, built: Any, role: str) -> str | None:
    """Why `model_type` cannot play `role`: a vision part must read pixel_values (its transformers class's
    main_input_name; composite configs such as CLIP's give their vision tower); a language part needs the head
    (and a causal LM must attend causally: an encoder such as BERT does only with is_decoder)."""
    import transformers
    from transformers.models.auto import modeling_auto

    if role == "vision":
        if hasattr(built, "vision_config"):
            return None
        cls = getattr(transformers, modeling_auto.MODEL_MAPPING_NAMES.get(model_type, ""), None)
        reads = getattr(cls, "main_input_name", None)
        if cls is not None and reads != "pixel_values":
            return (f"{key}.config.model_type: {model_type!r} is not a vision model ({cls.__name__} reads {reads}, "
                    "not pixel_values); give a vision encoder, e.g. clip_vision_model, siglip_vision_model, vit")
        return None
    if role not in ROLE_HEADS:
        return None
    mapping, head, examples = ROLE_HEADS[role]
    if model_type not in getattr(modeling_auto, mapping) or model_type == "encoder-decoder":  # that one needs two
        return f"{key}.config.model_type: {model_type!r} has no {head} in transformers (e.g. {examples})"
    if (role == "causal_lm" and model_type in modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
            and not getattr(built, "is_decoder", False) and not key == "model"):
        return (f"{key}.config.model_type: {model_type!r} is an encoder that attends both ways, so it would see the "
                f"tokens it predicts; set is_decoder: true in {key}.config, or use a decoder-only LM ({examples})")
    return None


def checkpoint_problems(key: str, name: str) -> list[str]:
    """A checkpoint must be a local folder, or cached when the hub cannot be reached."""
    if Path(name).expanduser().is_dir():
        return []
    if Path(name).expanduser().exists():
        return [f"{key}.pretrained: {name} is a file; give a checkpoint folder or a hub name"]
    if os.environ.get("HF_HUB_OFFLINE", "") in ("", "0"):
        return []  # online: from_pretrained downloads it (and names the field if it cannot)
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001  (a name that is not a valid repo id)
        cached = None
    if isinstance(cached, str):
        return []
    return [f"{key}.pretrained: {name!r} is not a local folder and not in the Hugging Face cache, and the hub "
            "is offline (HF_HUB_OFFLINE=1); download it first or give a local folder"]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """transformers logs warnings about token ids while building a config; the problems are reported here."""
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _last_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__
