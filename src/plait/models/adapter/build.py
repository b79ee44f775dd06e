"""Builder of the adapter family: config -> frozen encoder and LM -> AdapterVLM with routed adapters + processor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from plait.data.modalities.image import check_optional_image
from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.adapter.config import AdapterModelConfig
from plait.models.adapter.model import AdapterVLM, decoder_layers, encoder_layers
from plait.models.adapter.processor import IMAGE_TOKEN, MODALITY_TOKEN, AdapterProcessor
from plait.models.components.freezing import count_parameters, set_trainable
from plait.models.components.loading import load_pretrained
from plait.models.components.tied import tied_aliases
from plait.models.components.tokenizer import train_tokenizer
from plait.models.family import BuildOptions, Built, Family, with_position_limit
from plait.models.projector.build import (
    _vision_from,
    build_image_processor,
    build_language,
    build_vision,
)

SPECIAL = [MODALITY_TOKEN, IMAGE_TOKEN]


def build_tokenizer(cfg: AdapterModelConfig, texts: list[str]) -> Any:
    """A trained or pretrained tokenizer with the modality and image placeholders as special tokens."""
    if cfg.tokenizer.train is not None:
        t = cfg.tokenizer.train
        return train_tokenizer(texts + [cfg.image_prompt, cfg.no_image_prompt], t.kind, t.vocab_size, t.lowercase,
                               SPECIAL)
    tokenizer = load_pretrained(AutoTokenizer, cfg.tokenizer.pretrained or cfg.language.pretrained, "model.tokenizer")
    missing = [t for t in SPECIAL if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def adapter_size(width: int, dim: int, groups: int) -> int:
    """Parameters of one RouterAdapter: A (w x dim + dim), B and D (w x dim / groups + w each), router (2w + 2)."""
    return width * dim + dim + 2 * (width * dim // groups + width) + 2 * width + 2


def assemble(cfg: AdapterModelConfig, vision: torch.nn.Module, language: torch.nn.Module, tokenizer: Any,
             label_smoothing: float) -> AdapterVLM:
    """Wrap the blocks, freeze the bases, and check the trainable count against the formula."""
    valid = "the adapter family wraps Llama-like LMs (llama, mistral, qwen2...) and CLIP-like encoders"
    try:
        n_lm = len(decoder_layers(language))
    except ValueError as err:
        raise UserError(f"model.language: {err}; {valid}") from None
    try:
        n_vision = len(encoder_layers(vision))
    except ValueError as err:
        raise UserError(f"model.vision: {err}; {valid}") from None
    dropout = cfg.resolved_dropout(n_lm, n_vision)
    a = cfg.adapter
    for name, width in (("language", language.get_input_embeddings().embedding_dim),
                        ("vision", vision.config.hidden_size)):
        if width % a.groups or a.dim % a.groups:
            raise UserError(f"model.adapter.groups: {a.groups} must divide model.adapter.dim ({a.dim}) and the "
                            f"{name} width ({width})")
    model = AdapterVLM(
        vision, language, tokenizer.convert_tokens_to_ids(MODALITY_TOKEN), tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        dim=a.dim, groups=a.groups, temperature=a.temperature, scale=a.scale, language_dropout=dropout["language"],
        vision_dropout=dropout.get("vision"), where=a.where, every=cfg.vision.every, hidden=cfg.vision.hidden,
        label_smoothing=label_smoothing,
    )
    set_trainable(model, False)
    for param in model.trainable_parameters().values():
        param.requires_grad_(True)
    lm_width, v_width = model.modality.embedding_dim, vision.config.hidden_size
    per_layer = 2 if a.where == "block" else 1
    expected = (n_lm * per_layer * adapter_size(lm_width, a.dim, a.groups)
                + (n_vision * adapter_size(v_width, a.dim, a.groups) if a.vision else 0)
                + 2 * lm_width  # the modality embedding
                + (v_width * cfg.vision.hidden + cfg.vision.hidden) + (cfg.vision.hidden * lm_width + lm_width))
    got = count_parameters(model)["trainable"]
    if got != expected:
        raise RuntimeError(f"the adapters made {got} parameters trainable, expected {expected}")
    if not model.visual.layers(n_vision):
        raise UserError(f"model.vision.every: {cfg.vision.every} is more than the encoder's {n_vision} layers "
                        "(no visual tokens)")
    return model


def num_visual_tokens(model: AdapterVLM) -> int:
    return len(model.visual.layers(len(encoder_layers(model.vision))))


def build(cfg: AdapterModelConfig, train_samples: list[Sample], label_smoothing: float = 0.0,
          quantize: bool = True) -> Built:
    """Build from the config; call under the experiment's seed."""
    texts = [t for s in train_samples for t in (s.prompt.replace(IMAGE_TOKEN, " "), s.target) if t]
    tokenizer = build_tokenizer(cfg, texts)
    vision = build_vision(cfg)
    language = build_language(cfg, tokenizer, quantize)
    model = assemble(cfg, vision, language, tokenizer, label_smoothing)
    processor = AdapterProcessor(tokenizer, build_image_processor(cfg, vision), num_visual_tokens(model),
                                 cfg.image_prompt, cfg.no_image_prompt)
    return Built(model, processor, info(model, cfg))


def info(model: AdapterVLM, cfg: AdapterModelConfig) -> dict[str, Any]:
    """What the built event records: parameter counts, visual tokens and the resolved per-layer dropout."""
    dropout = cfg.resolved_dropout(len(decoder_layers(model.language)), len(encoder_layers(model.vision)))
    return {"parameters": count_parameters(model), "visual_tokens": num_visual_tokens(model),
            "adapter_dropout": dropout}


def _from_config(name: str, cfg: AdapterModelConfig) -> bool:
    return getattr(cfg, name).pretrained is None


def save(built: Built, cfg: AdapterModelConfig, folder: Path) -> None:
    """Adapters, modality embedding and visual MLP apart; bases built from a config too; configs, tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    model: AdapterVLM = built.model
    model.vision.config.save_pretrained(folder / "vision")
    model.language.config.save_pretrained(folder / "language")
    model.language.generation_config.save_pretrained(folder / "language")
    trainable = set(model.trainable_parameters())
    aliases = tied_aliases(model)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k not in aliases}
    save_file({k: v for k, v in state.items() if k in trainable}, str(folder / "adapter.safetensors"))
    bases = [name for name in ("vision", "language") if _from_config(name, cfg)]
    if bases:
        save_file({k: v for k, v in state.items() if k not in trainable and k.split(".", 1)[0] in bases},
                  str(folder / "model.safetensors"))
    built.processor.save(folder)
    meta = {"family": "adapter", "model": cfg.model_dump(mode="json"), "bases": bases,
            "num_visual_tokens": built.processor.num_visual_tokens,
            "adapter_dropout": built.info.get("adapter_dropout")}
    (folder / "plait_model.json").write_text(json.dumps(meta, indent=2))


def load(folder: Path, cfg: AdapterModelConfig | None = None, quantize: bool = True,
         label_smoothing: float = 0.0) -> Built:
    """Rebuild `save`'s model offline (`cfg`, for init_from, must describe the same model)."""
    meta = json.loads((folder / "plait_model.json").read_text())
    saved = AdapterModelConfig.model_validate(meta["model"])  # init_from's cfg: checked by differences_from
    tokenizer = AutoTokenizer.from_pretrained(folder)
    vision = build_vision(saved) if saved.vision.pretrained else _vision_from(folder / "vision")
    if saved.language.pretrained:
        language = build_language(saved, tokenizer, quantize)
    else:
        language = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder / "language"))
    language.generation_config = GenerationConfig.from_pretrained(folder / "language")
    model = assemble(saved, vision, language, tokenizer, label_smoothing)
    state = load_file(str(folder / "adapter.safetensors"))
    if meta.get("bases"):
        state |= load_file(str(folder / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    aliases = tied_aliases(model)
    from_checkpoint = tuple(f"{name}." for name in ("vision", "language") if name not in meta.get("bases", []))
    missing = [k for k in missing if k not in aliases and not k.startswith(from_checkpoint)]
    if missing or unexpected:
        raise UserError(f"{folder}: saved weights do not match the model (missing {missing[:3]}, "
                        f"unexpected {unexpected[:3]})")
    from transformers import AutoImageProcessor

    processor = AdapterProcessor(tokenizer, AutoImageProcessor.from_pretrained(folder), meta["num_visual_tokens"],
                                 saved.image_prompt, saved.no_image_prompt)
    return Built(model, processor, info(model, saved))


class AdapterFamily(Family):
    """LaVIN's Mixture-of-Modality Adaptation (see plait.models.registry for what the family can do)."""

    name = "adapter"

    def build(self, cfg: AdapterModelConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        return with_position_limit(build(cfg, train_samples, options.label_smoothing, options.quantize))

    def save(self, built: Built, cfg: AdapterModelConfig, folder: Path) -> None:
        save(built, cfg, folder)

    def load(self, folder: Path, cfg: AdapterModelConfig | None = None,
             options: BuildOptions = BuildOptions()) -> Built:
        return with_position_limit(load(folder, cfg, options.quantize, options.label_smoothing))

    def check(self, sample: Sample) -> str | None:
        return check_optional_image(sample)  # samples without one get the no-image prompt and modality token


ADAPTER = AdapterFamily()
