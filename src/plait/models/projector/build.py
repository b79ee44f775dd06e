"""Builder of the projector family: config -> plain arguments -> ProjectorVLM + processor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    CLIPImageProcessorPil,
    CLIPVisionModelWithProjection,
    GenerationConfig,
    SiglipVisionModel,
)

from plait.data.modalities.image import check_optional_image
from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.components.freezing import apply_trainable, count_parameters
from plait.models.components.loading import load_pretrained, make_config
from plait.models.components.peft import (
    add_lora,
    base_state,
    bnb_config,
    is_lora,
    load_adapter,
    prepare_quantized,
    save_adapter,
)
from plait.models.components.projector import MLPProjector
from plait.models.components.tokenizer import train_tokenizer
from plait.models.family import BuildOptions, Built, Family, with_position_limit
from plait.models.projector.config import ProjectorModelConfig
from plait.models.projector.features import feature_cache
from plait.models.projector.model import ProjectorVLM
from plait.models.projector.processor import ProjectorProcessor

VISION_CLASSES = {
    "clip": CLIPVisionModelWithProjection,
    "clip_vision_model": CLIPVisionModelWithProjection,
    "siglip": SiglipVisionModel,
    "siglip_vision_model": SiglipVisionModel,
}

ADAPTERS = {"vision": "vision_adapter", "language": "adapter"}
"""Folder of each component's LoRA adapter inside a saved model."""


def _vision_class(model_type: str) -> Any:
    return VISION_CLASSES.get(model_type, AutoModel)


def _from_config(config: Any) -> torch.nn.Module:
    cls = _vision_class(config.model_type)
    return cls.from_config(config) if cls is AutoModel else cls._from_config(config)  # AutoModel has no _from_config


def build_vision(cfg: ProjectorModelConfig) -> torch.nn.Module:
    v = cfg.vision
    if v.pretrained:
        kind = load_pretrained(AutoConfig, v.pretrained, "model.vision").model_type
        return load_pretrained(_vision_class(kind), v.pretrained, "model.vision")
    config = make_config(v.config, "model.vision")
    return _from_config(config)


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


def build_language(cfg: ProjectorModelConfig, tokenizer: Any, quantize: bool = True) -> torch.nn.Module:
    lang = cfg.language
    quantized = lang.quantization is not None and quantize
    if lang.pretrained:
        kwargs = {}
        if quantized:
            q = lang.quantization
            kwargs["quantization_config"] = bnb_config(q.quant_type, q.double_quant, q.compute_dtype)
        model = load_pretrained(AutoModelForCausalLM, lang.pretrained, "model.language", **kwargs)
        if quantized:
            model = prepare_quantized(model)
    else:
        values = dict(lang.config)
        values.setdefault("vocab_size", len(tokenizer))
        values.setdefault("pad_token_id", tokenizer.pad_token_id)
        values.setdefault("bos_token_id", tokenizer.bos_token_id)
        values.setdefault("eos_token_id", tokenizer.eos_token_id)
        model = AutoModelForCausalLM.from_config(make_config(values, "model.language"))
    old = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > old:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        # New rows (the image token) start at the mean row, so a frozen checkpoint rebuilds identically on reload.
        with torch.no_grad():
            tables = (model.get_input_embeddings(), model.get_output_embeddings())
            for table in {id(t.weight): t.weight for t in tables if t is not None}.values():
                table[old:] = table[:old].mean(0)
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
    sizes = {"vision": count_parameters(vision)["total"], "projector": count_parameters(projector)["total"],
             "language": count_parameters(language)["total"], "lora": 0}
    if cfg.vision.lora is not None:
        vision = _with_lora(vision, cfg.vision.lora, "model.vision.lora", None)
    if cfg.language.lora is not None:
        language = _with_lora(language, cfg.language.lora, "model.language.lora", "CAUSAL_LM")
    sizes["lora"] = sum(p.numel() for part in (vision, language) for n, p in part.named_parameters() if is_lora(n))
    model = ProjectorVLM(
        vision, projector, language, tokenizer.convert_tokens_to_ids(cfg.image_token),
        feature=cfg.vision.feature, layer=cfg.vision.layer, drop_cls=cfg.vision.drop_cls,
        label_smoothing=label_smoothing,
    )
    parts = cfg.default_trainable()
    got = apply_trainable(model, model.parameter_groups(), parts)
    expected = sum(sizes[part] for part in parts)
    if got != expected:
        raise RuntimeError(f"training {parts} made {got} parameters trainable, expected {expected}")
    return model


def _with_lora(module: torch.nn.Module, spec: Any, where: str, task_type: str | None) -> torch.nn.Module:
    return add_lora(module, spec.r, spec.alpha, spec.dropout, spec.target_modules, where, task_type)


def count_image_tokens(model: ProjectorVLM, image_processor: Any) -> int:
    size = image_processor.crop_size or image_processor.size
    h = size.get("height", size.get("shortest_edge"))
    w = size.get("width", size.get("shortest_edge"))
    with torch.no_grad():
        return model.image_features(torch.zeros(1, 3, h, w)).shape[1]


def build(cfg: ProjectorModelConfig, train_samples: list[Sample], label_smoothing: float = 0.0) -> Built:
    """Build from the config; call under the experiment's seed."""
    # the prompt's pieces around the image token are what gets encoded (and must decode back)
    texts = [t for s in train_samples for t in (*s.prompt.split(cfg.image_token), s.target, cfg.prefix, cfg.suffix)
             if t]
    tokenizer = build_tokenizer(cfg, texts)
    vision = build_vision(cfg)
    language = build_language(cfg, tokenizer)
    model = assemble(cfg, vision, language, tokenizer, label_smoothing)
    image_processor = build_image_processor(cfg, vision)
    features, off = feature_cache(cfg.vision.cache_features, model, image_processor)
    processor = ProjectorProcessor(
        tokenizer, image_processor, cfg.image_token, count_image_tokens(model, image_processor),
        cfg.placement, cfg.prefix, cfg.suffix, features=features,
    )
    return Built(model, processor, {"parameters": count_parameters(model), "image_tokens": processor.num_image_tokens,
                                    "feature_cache": features is not None, **_off(cfg, off)})


def _off(cfg: ProjectorModelConfig, reason: str) -> dict[str, Any]:
    """built.info's feature_cache_off: the setting and why the model has no feature cache (the run records it)."""
    setting = str(cfg.vision.cache_features).lower()
    return {"feature_cache_off": {"setting": setting, "reason": reason}} if reason else {}


def _saves_base(cfg: ProjectorModelConfig, name: str, built: Built) -> bool:
    """A base is saved unless its checkpoint rebuilds it: built from a config, trained, or changed by init_from."""
    part = getattr(cfg, name)
    trained = part.lora is None and not part.freeze
    return part.pretrained is None or trained or name in built.info.get("changed_bases", ())


def save(built: Built, cfg: ProjectorModelConfig, folder: Path) -> None:
    """Projector, adapters and the base weights a checkpoint cannot rebuild, apart; configs, tokenizer, processor."""
    folder.mkdir(parents=True, exist_ok=True)
    model: ProjectorVLM = built.model
    model.vision.config.save_pretrained(folder / "vision")
    model.language.config.save_pretrained(folder / "language")
    model.language.generation_config.save_pretrained(folder / "language")
    save_file(model.projector.state_dict(), str(folder / "projector.safetensors"))
    bases = [name for name in ("vision", "language") if _saves_base(cfg, name, built)]
    if bases:
        state = {f"{name}.{k}": v for name in bases for k, v in base_state(getattr(model, name)).items()}
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    for name, sub in ADAPTERS.items():
        if getattr(cfg, name).lora is not None:
            save_adapter(getattr(model, name), folder / sub)
    built.processor.save(folder)
    meta = {"family": "projector", "model": cfg.model_dump(mode="json"), "bases": bases,
            "num_image_tokens": built.processor.num_image_tokens}
    (folder / "plait_model.json").write_text(json.dumps(meta, indent=2))
    if cfg.save_merged:
        from plait.models.projector.export import export_model  # export reloads through `load` below

        export_model(folder, folder / "merged", merge=True)


def load(folder: Path, cfg: ProjectorModelConfig | None = None, quantize: bool = True,
         label_smoothing: float = 0.0) -> Built:
    """Rebuild `save`'s model offline; `cfg` (init_from) sets what trains; quantize=False loads 4-bit parts in full."""
    meta = json.loads((folder / "plait_model.json").read_text())
    saved = ProjectorModelConfig.model_validate(meta["model"])
    cfg = saved if cfg is None else check_same_model(saved, cfg, folder)
    bases = meta.get("bases", [])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    vision = build_vision(saved) if saved.vision.pretrained else _vision_from(folder / "vision")
    if saved.language.pretrained:
        language = build_language(saved, tokenizer, quantize)
    else:
        language = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder / "language"))
    if len(tokenizer) > language.get_input_embeddings().num_embeddings:
        raise UserError(f"{folder}: tokenizer has more tokens than the saved language model")
    if bases:
        state = load_file(str(folder / "model.safetensors"))
        for name, module in (("vision", vision), ("language", language)):
            if name in bases:
                _load_base(module, {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(f"{name}.")},
                           folder / "model.safetensors", name)
    language.generation_config = GenerationConfig.from_pretrained(folder / "language")
    training = cfg is not saved
    model = assemble(cfg, vision, language, tokenizer, label_smoothing)
    model.projector.load_state_dict(load_file(str(folder / "projector.safetensors")))
    for name, sub in ADAPTERS.items():
        if (folder / sub).is_dir():
            load_adapter(getattr(model, name), folder / sub)
    image_processor = AutoImageProcessor.from_pretrained(folder)
    features, off = feature_cache(cfg.vision.cache_features, model, image_processor) if training else (None, "")
    processor = ProjectorProcessor(tokenizer, image_processor, cfg.image_token, meta["num_image_tokens"],
                                   cfg.placement, cfg.prefix, cfg.suffix, features=features)
    return Built(model, processor, {"parameters": count_parameters(model), "changed_bases": bases, **_off(cfg, off)})


def _vision_from(folder: Path) -> torch.nn.Module:
    config = AutoConfig.from_pretrained(folder)
    return _from_config(config)


def _load_base(module: torch.nn.Module, state: dict[str, torch.Tensor], file: Path, name: str) -> None:
    if any(getattr(p, "quant_state", None) is not None for p in module.parameters()):
        raise UserError(f"{file}: holds trained {name} weights, which cannot be loaded into a 4-bit model; "
                        f"drop model.{name}.quantization")
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UserError(f"{file}: {name} weights do not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")


def check_same_model(saved: ProjectorModelConfig, cfg: ProjectorModelConfig, folder: Path) -> ProjectorModelConfig:
    """`cfg` when it describes the saved model (see ProjectorModelConfig.differences_from); else a UserError."""
    diff = cfg.differences_from(saved)
    if diff:
        raise UserError(f"init_from {folder.parent}: the experiment's model differs from that run's in "
                        f"{', '.join(diff[:5])}; only freezing, LoRA dropout and new LoRA adapters may change")
    return cfg


class ProjectorFamily(Family):
    """LLaVA-style models (see plait.models.registry for what the family can do)."""

    name = "projector"

    def build(self, cfg: ProjectorModelConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        return with_position_limit(build(cfg, train_samples, options.label_smoothing))

    def save(self, built: Built, cfg: ProjectorModelConfig, folder: Path) -> None:
        save(built, cfg, folder)

    def load(self, folder: Path, cfg: ProjectorModelConfig | None = None,
             options: BuildOptions = BuildOptions()) -> Built:
        return with_position_limit(load(folder, cfg, options.quantize, options.label_smoothing))

    def check(self, sample: Sample) -> str | None:
        return check_optional_image(sample)

    def export(self, folder: Path, target: Path, merge: bool) -> dict[str, Any]:
        from plait.models.projector.export import export_model

        return export_model(folder, target, merge)


PROJECTOR = ProjectorFamily()
