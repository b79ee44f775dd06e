"""Builder of the git family: config -> GitForCausalLM (encoder kept or replaced) + processor; save, load, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from transformers import (
    AutoImageProcessor,
    AutoTokenizer,
    CLIPImageProcessorPil,
    GenerationConfig,
    GitConfig,
    GitForCausalLM,
)

from plait.data.modalities.image import check_optional_image
from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.components.freezing import apply_trainable, count_parameters
from plait.models.components.tied import tied_aliases
from plait.models.components.loading import load_pretrained, make_config
from plait.models.components.tokenizer import train_tokenizer
from plait.models.family import BuildOptions, Built, Family, with_position_limit
from plait.models.git.config import GitModelConfig
from plait.models.git.model import GitVLM, replace_encoder, set_image_tokens
from plait.models.git.processor import GitProcessor
from plait.models.components.vision_encoder import build_encoder, encoder_from_folder


def build_tokenizer(cfg: GitModelConfig, train_texts: list[str]) -> Any:
    if cfg.tokenizer.train is not None:
        t = cfg.tokenizer.train
        return train_tokenizer(train_texts, t.kind, t.vocab_size, t.lowercase, [])
    tokenizer = load_pretrained(AutoTokenizer, cfg.tokenizer.pretrained or cfg.language.pretrained, "model.tokenizer")
    if tokenizer.bos_token_id is None:  # GIT's BERT tokenizer: [CLS] starts, [SEP] ends
        tokenizer.bos_token, tokenizer.eos_token = tokenizer.cls_token, tokenizer.sep_token
    return tokenizer


def build_git(cfg: GitModelConfig, tokenizer: Any) -> GitForCausalLM:
    lang = cfg.language
    if lang.pretrained:
        return load_pretrained(GitForCausalLM, lang.pretrained, "model.language")
    values = dict(lang.config)
    if cfg.vision.replaced:  # GIT's own encoder would be built only to be thrown away
        values["vision_config"] = {**values.get("vision_config", {}), "num_hidden_layers": 0}
    values.setdefault("vocab_size", len(tokenizer))
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        values.setdefault(name, getattr(tokenizer, name))  # GitConfig's 101/102 are BERT's ids
    return GitForCausalLM(make_config(values, "model.language"))


def replacement_encoder(cfg: GitModelConfig) -> torch.nn.Module | None:
    v = cfg.vision
    return build_encoder(v.pretrained, v.config, "model.vision") if v.replaced else None


def build_image_processor(cfg: GitModelConfig, git: GitForCausalLM) -> Any:
    v = cfg.vision
    source = v.processor or v.pretrained or (None if v.replaced else cfg.language.pretrained)
    if source:
        return load_pretrained(AutoImageProcessor, source, "model.vision.processor")
    size = getattr(git.git.image_encoder.config, "image_size", 224)
    return CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def count_image_tokens(git: GitForCausalLM, image_processor: Any) -> int:
    """Tokens the encoder makes of one image (measured, so any encoder works)."""
    size = image_processor.crop_size or image_processor.size
    h, w = size.get("height", size.get("shortest_edge")), size.get("width", size.get("shortest_edge"))
    with torch.no_grad():
        return git.git.image_encoder(pixel_values=torch.zeros(1, 3, h, w)).last_hidden_state.shape[1]


def assemble(cfg: GitModelConfig, git: GitForCausalLM, label_smoothing: float) -> GitVLM:
    model = GitVLM(git, label_smoothing)
    groups = model.parameter_groups()
    parts = cfg.default_trainable()
    got = apply_trainable(model, groups, parts)
    expected = sum(p.numel() for part in parts for p in groups[part])
    if got != expected:
        raise RuntimeError(f"training {parts} made {got} parameters trainable, expected {expected}")
    return model


def build(cfg: GitModelConfig, train_samples: list[Sample], label_smoothing: float = 0.0) -> Built:
    """Build from the config; call under the experiment's seed."""
    tokenizer = build_tokenizer(cfg, [t for s in train_samples for t in (s.prompt, s.target) if t])
    git = build_git(cfg, tokenizer)
    encoder = replacement_encoder(cfg)
    if encoder is not None:
        git.git.image_encoder = encoder
    image_processor = build_image_processor(cfg, git)
    tokens = count_image_tokens(git, image_processor)
    if encoder is not None:
        replace_encoder(git, encoder, tokens)
    set_image_tokens(git, tokens)
    model = assemble(cfg, git, label_smoothing)
    processor = GitProcessor(tokenizer, image_processor, tokens)
    return Built(model, processor, {"parameters": count_parameters(model), "image_tokens": tokens})


def save(built: Built, cfg: GitModelConfig, folder: Path) -> None:
    """All weights in one safetensors file, GIT's (and a replacement encoder's) config, tokenizer and processor."""
    folder.mkdir(parents=True, exist_ok=True)
    git: GitForCausalLM = built.model.git
    git.config.save_pretrained(folder / "git")
    git.generation_config.save_pretrained(folder / "git")
    if cfg.vision.replaced:
        git.git.image_encoder.config.save_pretrained(folder / "vision")
    save_model(built.model, str(folder / "model.safetensors"))
    built.processor.save(folder)
    meta = {"family": "git", "model": cfg.model_dump(mode="json"), "image_tokens": built.processor.image_tokens}
    (folder / "plait_model.json").write_text(json.dumps(meta, indent=2))


def load(folder: Path, cfg: GitModelConfig | None = None, label_smoothing: float = 0.0, **_: Any) -> Built:
    """Rebuild `save`'s model offline; `cfg` (init_from) sets what trains."""
    meta = json.loads((folder / "plait_model.json").read_text())
    saved = GitModelConfig.model_validate(meta["model"])
    cfg = saved if cfg is None else cfg
    git = GitForCausalLM(GitConfig.from_pretrained(folder / "git"))
    git.generation_config = GenerationConfig.from_pretrained(folder / "git")
    if saved.vision.replaced:
        replace_encoder(git, encoder_from_folder(folder / "vision"), meta["image_tokens"])
    set_image_tokens(git, meta["image_tokens"])
    model = assemble(cfg, git, label_smoothing)
    missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=False)
    missing = set(missing) - tied_aliases(model)
    if missing or unexpected:
        raise UserError(f"{folder / 'model.safetensors'}: weights do not match the model "
                        f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    processor = GitProcessor(AutoTokenizer.from_pretrained(folder), AutoImageProcessor.from_pretrained(folder),
                             meta["image_tokens"])
    return Built(model, processor, {"parameters": count_parameters(model)})


def export_git(folder: Path, out: Path) -> Path:
    """A folder GitForCausalLM.from_pretrained (and AutoProcessor's parts) load: weights, config, tokenizer."""
    built = load(folder)
    meta = json.loads((folder / "plait_model.json").read_text())
    if GitModelConfig.model_validate(meta["model"]).vision.replaced:
        raise UserError(f"{folder}: its image encoder replaces GIT's own, which GitForCausalLM cannot load; "
                        "export needs model.vision unset (GIT's encoder)")
    out.mkdir(parents=True, exist_ok=True)
    built.model.git.save_pretrained(out)
    built.processor.save(out)
    return out


class GitFamily(Family):
    """GIT models (see plait.models.registry for what the family can do)."""

    name = "git"

    def build(self, cfg: GitModelConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        return with_position_limit(build(cfg, train_samples, options.label_smoothing))

    def save(self, built: Built, cfg: GitModelConfig, folder: Path) -> None:
        save(built, cfg, folder)

    def load(self, folder: Path, cfg: GitModelConfig | None = None, options: BuildOptions = BuildOptions()) -> Built:
        return with_position_limit(load(folder, cfg, options.label_smoothing))

    def check(self, sample: Sample) -> str | None:
        return check_optional_image(sample)

    def export(self, folder: Path, target: Path, merge: bool) -> dict[str, Any]:
        """GitForCausalLM's own folder (merge does not apply: GIT has no adapters here)."""
        export_git(folder, target)
        return {"class": "GitForCausalLM", "quantized_4bit": False, "adapter": None}


GIT = GitFamily()
