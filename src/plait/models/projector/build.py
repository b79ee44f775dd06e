"""Builder of the projector family: config -> plain arguments -> ProjectorVLM + processor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    CLIPImageProcessorPil,
    CLIPVisionModelWithProjection,
    SiglipVisionModel,
)

from plait.data.modalities.image import check_image
from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.components.freezing import count_parameters, set_trainable
from plait.models.components.loading import load_pretrained, make_config
from plait.models.components.projector import MLPProjector
from plait.models.components.tokenizer import train_tokenizer
from plait.models.family import Built, Family
from plait.models.projector.config import ProjectorModelConfig
from plait.models.projector.model import ProjectorVLM
from plait.models.projector.processor import ProjectorProcessor

VISION_CLASSES = {
    "clip": CLIPVisionModelWithProjection,
    "clip_vision_model": CLIPVisionModelWithProjection,
    "siglip": SiglipVisionModel,
    "siglip_vision_model": SiglipVisionModel,
}


def _vision_class(model_type: str) -> Any:
    return VISION_CLASSES.get(model_type, AutoModel)


def build_vision(cfg: ProjectorModelConfig) -> torch.nn.Module:
    v = cfg.vision
    if v.pretrained:
        kind = load_pretrained(AutoConfig, v.pretrained, "model.vision").model_type
        return load_pretrained(_vision_class(kind), v.pretrained, "model.vision")
    config = make_config(v.config, "model.vision")
    return _vision_class(config.model_type)._from_config(config)


def build_image_processor(cfg: ProjectorModelConfig, vision: torch.nn.Module) -> Any:
    v = cfg.vision
    source = v.processor or v.pretrained
    if source:
        return load_pretrained(AutoImageProcessor, source, "model.vision.processor")
    size = getattr(vision.config, "image_size", 224)
    return CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def build_tokenizer(cfg: ProjectorModelConfig, train_texts: list[str]) -> Any:
    tok_cfg = cfg.tokenizer
    if tok_cfg.train is not None:
        t = tok_cfg.train
        return train_tokenizer(train_texts, t.kind, t.vocab_size, t.lowercase, [cfg.image_token])
    tokenizer = load_pretrained(AutoTokenizer, tok_cfg.pretrained or cfg.language.pretrained, "model.tokenizer")
    if cfg.image_token not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [cfg.image_token]})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def build_language(cfg: ProjectorModelConfig, tokenizer: Any) -> torch.nn.Module:
    lang = cfg.language
    if lang.pretrained:
        model = load_pretrained(AutoModelForCausalLM, lang.pretrained, "model.language")
    else:
        values = dict(lang.config)
        values.setdefault("vocab_size", len(tokenizer))
        values.setdefault("pad_token_id", tokenizer.pad_token_id)
        values.setdefault("bos_token_id", tokenizer.bos_token_id)
        values.setdefault("eos_token_id", tokenizer.eos_token_id)
        model = AutoModelForCausalLM.from_config(make_config(values, "model.language"))
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def vision_out_dim(vision: torch.nn.Module, feature: str) -> int:
    config = vision.config
    if feature == "pooled" and hasattr(vision, "visual_projection"):
        return config.projection_dim
    return config.hidden_size


def assemble(cfg: ProjectorModelConfig, vision: Any, language: Any, tokenizer: Any,
             label_smoothing: float) -> ProjectorVLM:
    """Wire the parts together and apply freezing; checks the trainable count it meant to produce."""
    lm_dim = language.get_input_embeddings().embedding_dim
    projector = MLPProjector(
        vision_out_dim(vision, cfg.vision.feature), lm_dim,
        layers=1 if cfg.projector.kind == "linear" else cfg.projector.layers,
        activation=cfg.projector.activation,
    )
    model = ProjectorVLM(
        vision, projector, language, tokenizer.convert_tokens_to_ids(cfg.image_token),
        feature=cfg.vision.feature, layer=cfg.vision.layer, drop_cls=cfg.vision.drop_cls,
        label_smoothing=label_smoothing,
    )
    expected = 0
    for part, frozen in ((vision, cfg.vision.freeze), (projector, cfg.projector.freeze), (language, cfg.language.freeze)):
        set_trainable(part, not frozen)
        expected += 0 if frozen else count_parameters(part)["total"]
    got = count_parameters(model)["trainable"]
    if got != expected:
        raise RuntimeError(f"freezing produced {got} trainable parameters, expected {expected}")
    return model


def count_image_tokens(model: ProjectorVLM, image_processor: Any) -> int:
    size = image_processor.crop_size or image_processor.size
    h = size.get("height", size.get("shortest_edge"))
    w = size.get("width", size.get("shortest_edge"))
    with torch.no_grad():
        return model.image_features(torch.zeros(1, 3, h, w)).shape[1]


def build(cfg: ProjectorModelConfig, train_samples: list[Sample], label_smoothing: float = 0.0) -> Built:
    """Build from the config; call under the experiment's seed."""
    texts = [t for s in train_samples for t in (s.prompt.replace(cfg.image_token, " "), s.target, cfg.prefix, cfg.suffix) if t]
    tokenizer = build_tokenizer(cfg, texts)
    vision = build_vision(cfg)
    language = build_language(cfg, tokenizer)
    model = assemble(cfg, vision, language, tokenizer, label_smoothing)
    image_processor = build_image_processor(cfg, vision)
    processor = ProjectorProcessor(
        tokenizer, image_processor, cfg.image_token, count_image_tokens(model, image_processor),
        cfg.placement, cfg.prefix, cfg.suffix,
    )
    return Built(model, processor, {"parameters": count_parameters(model), "image_tokens": processor.num_image_tokens})


def save(built: Built, cfg: ProjectorModelConfig, folder: Path) -> None:
    """Weights (safetensors), component configs, tokenizer and image processor, loadable offline."""
    folder.mkdir(parents=True, exist_ok=True)
    model: ProjectorVLM = built.model
    model.vision.config.save_pretrained(folder / "vision")
    model.language.config.save_pretrained(folder / "language")
    model.language.generation_config.save_pretrained(folder / "language")
    save_model(model, str(folder / "model.safetensors"))
    built.processor.save(folder)
    meta = {"family": "projector", "model": cfg.model_dump(mode="json"),
            "num_image_tokens": built.processor.num_image_tokens}
    (folder / "plait_model.json").write_text(json.dumps(meta, indent=2))


def load(folder: Path) -> Built:
    """Rebuild the model from `save`'s folder without touching the network."""
    meta = json.loads((folder / "plait_model.json").read_text())
    cfg = ProjectorModelConfig.model_validate(meta["model"])
    vision_config = AutoConfig.from_pretrained(folder / "vision")
    vision = _vision_class(vision_config.model_type)._from_config(vision_config)
    language = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder / "language"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if len(tokenizer) > language.get_input_embeddings().num_embeddings:
        raise UserError(f"{folder}: tokenizer has more tokens than the saved language model")
    model = assemble(cfg, vision, language, tokenizer, 0.0)
    missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise UserError(f"{folder}/model.safetensors: does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    from transformers import GenerationConfig

    language.generation_config = GenerationConfig.from_pretrained(folder / "language")
    image_processor = AutoImageProcessor.from_pretrained(folder)
    processor = ProjectorProcessor(tokenizer, image_processor, cfg.image_token, meta["num_image_tokens"],
                                   cfg.placement, cfg.prefix, cfg.suffix)
    return Built(model, processor, {"parameters": count_parameters(model)})


def check(sample: Sample) -> str | None:
    """Images must load; text-only samples are fine."""
    return check_image(sample.media) if sample.media is not None else None


PROJECTOR = Family(build=build, save=save, load=load, check=check)
