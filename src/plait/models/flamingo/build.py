"""Builder of the flamingo family: config -> plain arguments -> FlamingoVLM + processor; save and load."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from transformers import AutoConfig, AutoImageProcessor, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from plait.data.modalities.image import check_optional_image
from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.components.freezing import apply_trainable, count_parameters
from plait.models.components.tied import tied_aliases
from plait.models.components.loading import load_pretrained, make_config
from plait.models.components.tokenizer import train_tokenizer
from plait.models.family import BuildOptions, Built, Family, with_position_limit
from plait.models.flamingo.config import FlamingoModelConfig
from plait.models.flamingo.cross_attention import GatedCrossAttention
from plait.models.flamingo.model import FlamingoVLM, cross_attention_positions
from plait.models.flamingo.processor import FlamingoProcessor
from plait.models.flamingo.resampler import Resampler
from plait.models.components.vision_encoder import build_encoder, encoder_from_folder
from plait.models.projector.build import build_image_processor


def build_tokenizer(cfg: FlamingoModelConfig, train_texts: list[str]) -> Any:
    """A trained or pretrained tokenizer with `<image>` and `<|endofchunk|>` as special tokens and a pad token."""
    specials = [cfg.image_token, cfg.end_of_chunk]
    if cfg.tokenizer.train is not None:
        t = cfg.tokenizer.train
        return train_tokenizer(train_texts, t.kind, t.vocab_size, t.lowercase, specials)
    tokenizer = load_pretrained(AutoTokenizer, cfg.tokenizer.pretrained or cfg.language.pretrained, "model.tokenizer")
    missing = [t for t in specials if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": "<PAD>"})  # as OpenFlamingo: padding must not be EOS, a target
    return tokenizer


def build_language(cfg: FlamingoModelConfig, tokenizer: Any) -> torch.nn.Module:
    """The causal LM, from its checkpoint or its config, with embedding rows for the added tokens."""
    lang = cfg.language
    if lang.pretrained:
        model = load_pretrained(AutoModelForCausalLM, lang.pretrained, "model.language")
    else:
        values = dict(lang.config)
        values.setdefault("vocab_size", len(tokenizer))
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            values.setdefault(name, getattr(tokenizer, name))
        model = AutoModelForCausalLM.from_config(make_config(values, "model.language"))
    old = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > old:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():  # new rows start at the mean row (deterministic, and a frozen LM stays rebuildable)
            tables = (model.get_input_embeddings(), model.get_output_embeddings())
            for table in {id(t.weight): t.weight for t in tables if t is not None}.values():
                table[old:] = table[:old].mean(0)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def assemble(cfg: FlamingoModelConfig, vision: Any, language: Any, tokenizer: Any,
             label_smoothing: float) -> FlamingoVLM:
    """Wire the parts together and apply freezing; checks the trainable count it meant to produce."""
    width = vision.config.hidden_size
    dim = language.get_input_embeddings().embedding_dim
    r, x = cfg.resampler, cfg.cross_attention
    sizes = {"vision": count_parameters(vision)["total"], "language": count_parameters(language)["total"]}
    resampler = Resampler(width, r.depth, r.heads, r.head_dim, r.latents)
    layers = language.config.get_text_config().num_hidden_layers
    vision_layers = vision.config.num_hidden_layers
    if not -(vision_layers + 1) <= cfg.vision.layer <= vision_layers:  # a checkpoint's (a config's: its config)
        raise UserError(f"model.vision.layer: {cfg.vision.layer} is not a hidden-states index of the "
                        f"{vision_layers}-layer encoder (valid: -{vision_layers + 1} to {vision_layers})")
    if x.every > layers:  # a checkpoint's layer count (a config's is checked by FlamingoModelConfig)
        raise UserError(f"model.cross_attention.every: {x.every} is more than the language model's {layers} "
                        f"layers; at most {layers}")
    make_block = partial(GatedCrossAttention, dim, width, x.heads, x.ff_mult, x.dropout, x.only_latest_image)
    model = FlamingoVLM(vision, resampler, language, tokenizer.convert_tokens_to_ids(cfg.image_token), make_block,
                        cross_attention_positions(layers, x.every, x.start), cfg.vision.layer, label_smoothing)
    sizes |= {"resampler": count_parameters(resampler)["total"],
              "cross_attention": count_parameters(model.cross_attention)["total"]}
    parts = cfg.default_trainable()
    got = apply_trainable(model, model.parameter_groups(), parts)
    if got != sum(sizes[p] for p in parts):
        raise RuntimeError(f"training {parts} made {got} parameters trainable, expected {sum(sizes[p] for p in parts)}")
    return model


def build(cfg: FlamingoModelConfig, train_samples: list[Sample], label_smoothing: float = 0.0) -> Built:
    """Build from the config; call under the experiment's seed."""
    texts = [t for s in train_samples for t in (s.prompt.replace(cfg.image_token, " "), s.target) if t]
    tokenizer = build_tokenizer(cfg, texts)
    vision = build_encoder(cfg.vision.pretrained, cfg.vision.config, "model.vision")
    model = assemble(cfg, vision, build_language(cfg, tokenizer), tokenizer, label_smoothing)
    processor = FlamingoProcessor(tokenizer, build_image_processor(cfg, vision), cfg.image_token, cfg.end_of_chunk)
    return Built(model, processor, {"parameters": count_parameters(model),
                                    "cross_attention_layers": len(model.cross_attention)})


def save(built: Built, cfg: FlamingoModelConfig, folder: Path) -> None:
    """Every weight in one safetensors file (tied tables once), the parts' configs, tokenizer and processor."""
    folder.mkdir(parents=True, exist_ok=True)
    model: FlamingoVLM = built.model
    model.vision.config.save_pretrained(folder / "vision")
    model.language.config.save_pretrained(folder / "language")
    model.language.generation_config.save_pretrained(folder / "language")
    save_model(model, str(folder / "model.safetensors"))
    built.processor.save(folder)
    meta = {"family": "flamingo", "model": cfg.model_dump(mode="json")}
    (folder / "plait_model.json").write_text(json.dumps(meta, indent=2))


def load(folder: Path, cfg: FlamingoModelConfig | None = None, label_smoothing: float = 0.0, **_: Any) -> Built:
    """Rebuild `save`'s model offline (no checkpoint is read); `cfg` (init_from) sets what trains."""
    saved = FlamingoModelConfig.model_validate(json.loads((folder / "plait_model.json").read_text())["model"])
    cfg = saved if cfg is None else cfg
    tokenizer = AutoTokenizer.from_pretrained(folder)
    vision = encoder_from_folder(folder / "vision")
    language = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder / "language"))
    language.generation_config = GenerationConfig.from_pretrained(folder / "language")
    model = assemble(cfg, vision, language, tokenizer, label_smoothing)
    missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=False)
    missing = set(missing) - tied_aliases(model)
    if missing or unexpected:
        raise UserError(f"{folder / 'model.safetensors'}: weights do not match the model "
                        f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    processor = FlamingoProcessor(tokenizer, AutoImageProcessor.from_pretrained(folder), cfg.image_token,
                                  cfg.end_of_chunk)
    return Built(model, processor, {"parameters": count_parameters(model)})


class FlamingoFamily(Family):
    """Flamingo models (see plait.models.registry for what the family can do)."""

    name = "flamingo"

    def build(self, cfg: FlamingoModelConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        return with_position_limit(build(cfg, train_samples, options.label_smoothing))

    def save(self, built: Built, cfg: FlamingoModelConfig, folder: Path) -> None:
        save(built, cfg, folder)

    def load(self, folder: Path, cfg: FlamingoModelConfig | None = None,
             options: BuildOptions = BuildOptions()) -> Built:
        return with_position_limit(load(folder, cfg, options.label_smoothing))

    def check(self, sample: Sample) -> str | None:
        return check_optional_image(sample)


FLAMINGO = FlamingoFamily()
