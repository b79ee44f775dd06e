"""Builder of the mapper family: config -> plain arguments -> MapperSeq2Seq + processor."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetensors.torch import load_model, save_model
from torch import nn
from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig

from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.components.freezing import count_parameters, set_trainable
from plait.models.components.loading import load_pretrained, make_config
from plait.models.components.tied import tied_aliases
from plait.models.components.tokenizer import train_tokenizer
from plait.models.family import BuildOptions, Built, Family
from plait.models.mapper.config import ConvMapper, MapperModelConfig, MLPMapper, SignalConfig
from plait.models.mapper.mappers import ConvMapper as ConvMapperModule
from plait.models.mapper.mappers import FrameMapper
from plait.models.mapper.model import MapperSeq2Seq
from plait.models.mapper.processor import MapperProcessor
from plait.models.mapper.signal import SignalSettings, check_signal, read_signal
from plait.models.mapper.tokens import add_tokens, extend_embeddings, prompt_tags


def signal_settings(cfg: SignalConfig) -> SignalSettings:
    """The reading settings as plain values."""
    return SignalSettings(fps=cfg.fps, frame_stride=cfg.frame_stride, max_frames=cfg.max_frames,
                          hide_legs=cfg.hide_legs, reduce_holistic=cfg.reduce_holistic, normalize=cfg.normalize,
                          cache_poses=cfg.cache_poses)


def build_tokenizer(cfg: MapperModelConfig, samples: list[Sample]) -> tuple[Any, list[str]]:
    """The tokenizer and the tokens new to it (prompt tags and `new_tokens`)."""
    tags = prompt_tags(samples, cfg.new_tokens)
    if cfg.tokenizer.train is not None:
        t = cfg.tokenizer.train
        texts = [" ".join(w for w in text.split() if w not in tags)
                 for s in samples for text in (s.target, s.prompt, s.decoder_prompt)]
        return train_tokenizer([x for x in texts if x], t.kind, t.vocab_size, t.lowercase, tags), []
    tokenizer = load_pretrained(AutoTokenizer, cfg.tokenizer.pretrained or cfg.backbone.pretrained, "model.tokenizer")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, add_tokens(tokenizer, tags)


def build_backbone(cfg: MapperModelConfig, tokenizer: Any) -> nn.Module:
    """The encoder-decoder from its checkpoint, or randomly initialised from its config."""
    b = cfg.backbone
    if b.pretrained:
        config = load_pretrained(AutoConfig, b.pretrained, "model.backbone")
        if not getattr(config, "is_encoder_decoder", False):
            raise UserError(f"model.backbone.pretrained: {b.pretrained!r} is a {config.model_type} model, "
                            "not an encoder-decoder; use e.g. t5, mbart, m2m_100 or nllb checkpoints")
        return load_pretrained(AutoModelForSeq2SeqLM, b.pretrained, "model.backbone")
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.pad_token_id
    values = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
              "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
              "decoder_start_token_id": start, **b.config}
    return AutoModelForSeq2SeqLM.from_config(make_config(values, "model.backbone"))


def decoder_start_id(backbone: nn.Module) -> int:
    """The token the decoder starts from (e.g. </s> for M2M100, <pad> for T5)."""
    for source in (backbone.generation_config, backbone.config):
        value = getattr(source, "decoder_start_token_id", None)
        if value is not None:
            return int(value)
    return int(backbone.config.pad_token_id)


def make_mapper(cfg: MapperModelConfig, in_dim: int, out_dim: int) -> nn.Module:
    """The configured mapper from `in_dim` frame features to the backbone's width."""
    m = cfg.mapper
    if isinstance(m, ConvMapper):
        return ConvMapperModule(in_dim, out_dim, m.layers, m.kernel_size, m.stride, m.activation)
    if isinstance(m, MLPMapper):
        return FrameMapper(in_dim, out_dim, m.layers, m.hidden_size, m.activation)
    return FrameMapper(in_dim, out_dim, 1)


def assemble(cfg: MapperModelConfig, backbone: nn.Module, in_dim: int, label_smoothing: float) -> MapperSeq2Seq:
    """Wire the parts together and apply freezing; checks the trainable count it meant to produce."""
    out_dim = backbone.get_input_embeddings().embedding_dim
    norm = nn.LayerNorm(in_dim) if cfg.layer_norm else nn.Identity()
    model = MapperSeq2Seq(norm, make_mapper(cfg, in_dim, out_dim), cfg.dropout, backbone, label_smoothing)
    set_trainable(backbone, not cfg.backbone.freeze)
    expected = count_parameters(model)["total"] - (count_parameters(backbone)["total"] if cfg.backbone.freeze else 0)
    got = count_parameters(model)["trainable"]
    if got != expected:
        raise RuntimeError(f"freezing produced {got} trainable parameters, expected {expected}")
    return model


def set_generation_ids(backbone: nn.Module, tokenizer: Any, start: int) -> None:
    """Generation stops at the tokenizer's EOS and pads with its pad token."""
    backbone.generation_config.pad_token_id = tokenizer.pad_token_id
    backbone.generation_config.eos_token_id = tokenizer.eos_token_id
    backbone.generation_config.decoder_start_token_id = start


def build(cfg: MapperModelConfig, train_samples: list[Sample], label_smoothing: float = 0.0) -> Built:
    """Build from the config; call under the experiment's seed (new token rows are drawn from it)."""
    settings = signal_settings(cfg.signal)
    in_dim = int(read_signal(train_samples[0], settings).shape[-1])
    tokenizer, new_tokens = build_tokenizer(cfg, train_samples)
    backbone = build_backbone(cfg, tokenizer)
    extend_embeddings(backbone, tokenizer, new_tokens, cfg.token_init)
    start = decoder_start_id(backbone)
    set_generation_ids(backbone, tokenizer, start)
    model = assemble(cfg, backbone, in_dim, label_smoothing)
    processor = MapperProcessor(tokenizer, settings, start, in_dim)
    return Built(model, processor, {"parameters": count_parameters(model), "input_dim": in_dim,
                                    "new_tokens": new_tokens, "vocab_size": len(tokenizer)})


def save(built: Built, cfg: MapperModelConfig, folder: Path) -> None:
    """Weights (safetensors), backbone config, tokenizer and reading settings, loadable offline."""
    folder.mkdir(parents=True, exist_ok=True)
    model: MapperSeq2Seq = built.model
    model.backbone.config.save_pretrained(folder / "backbone")
    model.backbone.generation_config.save_pretrained(folder / "backbone")
    save_model(model, str(folder / "model.safetensors"))
    built.processor.save(folder)
    meta = {"family": "mapper", "model": cfg.model_dump(mode="json"), "input_dim": built.processor.input_dim}
    (folder / "plait_model.json").write_text(json.dumps(meta, indent=2))


def load(folder: Path, cfg: MapperModelConfig | None = None, label_smoothing: float = 0.0) -> Built:
    """Rebuild the model from `save`'s folder without touching the network; `cfg` (init_from) sets what trains."""
    meta = json.loads((folder / "plait_model.json").read_text())
    cfg = cfg or MapperModelConfig.model_validate(meta["model"])
    backbone = AutoModelForSeq2SeqLM.from_config(AutoConfig.from_pretrained(folder / "backbone"))
    backbone.generation_config = GenerationConfig.from_pretrained(folder / "backbone")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = assemble(cfg, backbone, meta["input_dim"], label_smoothing)
    missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=False)
    missing = set(missing) - tied_aliases(model)
    if missing or unexpected:
        raise UserError(f"{folder}/model.safetensors: does not match the model "
                        f"(missing {sorted(missing)[:3]}, unexpected {unexpected[:3]})")
    return Built(model, MapperProcessor.load(folder, tokenizer), {"parameters": count_parameters(model)})


def check(sample: Sample) -> str | None:
    """The signal must exist and load (without a config's frame limit)."""
    return check_signal(sample, SignalSettings())


def check_with(cfg: MapperModelConfig) -> Callable[[Sample], str | None]:
    """The check with the config's reading settings and frame limit."""
    settings = signal_settings(cfg.signal)
    return lambda sample: check_signal(sample, settings)


class MapperFamily(Family):
    """Feature or pose sequences into an encoder-decoder (see plait.models.registry for its capabilities)."""

    name = "mapper"

    def build(self, cfg: MapperModelConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        return build(cfg, train_samples, options.label_smoothing)

    def save(self, built: Built, cfg: MapperModelConfig, folder: Path) -> None:
        save(built, cfg, folder)

    def load(self, folder: Path, cfg: MapperModelConfig | None = None,
             options: BuildOptions = BuildOptions()) -> Built:
        return load(folder, cfg, options.label_smoothing)

    def check(self, sample: Sample) -> str | None:
        return check(sample)

    def checker(self, cfg: MapperModelConfig) -> Callable[[Sample], str | None]:
        return check_with(cfg)


MAPPER = MapperFamily()
