"""The projector family's model as transformers' LlavaForConditionalGeneration: when it fits, its config, its weights."""

from __future__ import annotations

from typing import Any

from torch import nn
from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

from plait.models.projector.config import ProjectorModelConfig


def llava_misfit(cfg: ProjectorModelConfig) -> str | None:
    """Why this model has no Llava equivalent, or None when it has one."""
    if cfg.vision.feature != "patch":
        return "model.vision.feature is pooled; Llava feeds the projector patch features (hidden states of a layer)"
    if cfg.projector.kind != "mlp" or cfg.projector.layers != 2:
        return "Llava's projector is a 2-layer mlp (model.projector: {kind: mlp, layers: 2})"
    return None


def llava_config(vision: nn.Module, language: nn.Module, cfg: ProjectorModelConfig, image_token_id: int,
                 num_image_tokens: int) -> LlavaConfig:
    """The LlavaConfig of plain (unwrapped, full-precision) vision and language modules wired as `cfg` says."""
    text = language.config.to_dict()
    text.pop("quantization_config", None)
    return LlavaConfig(
        vision_config=vision.config.to_dict(), text_config=text, image_token_index=image_token_id,
        image_seq_length=num_image_tokens, projector_hidden_act=cfg.projector.activation,
        vision_feature_layer=cfg.vision.layer,
        vision_feature_select_strategy="default" if cfg.vision.drop_cls else "full",
        multimodal_projector_bias=True, tie_word_embeddings=bool(getattr(language.config, "tie_word_embeddings", False)),
    )


def to_llava(vision: nn.Module, projector: nn.Module, language: nn.Module, cfg: ProjectorModelConfig,
             image_token_id: int, num_image_tokens: int) -> LlavaForConditionalGeneration:
    """A LlavaForConditionalGeneration holding the same weights as plain vision, projector and language modules."""
    config = llava_config(vision, language, cfg, image_token_id, num_image_tokens)
    dtype = next(language.parameters()).dtype
    llava = LlavaForConditionalGeneration(config).to(dtype).eval()
    tower = llava.model.vision_tower
    # plait may hold the tower inside a wrapper (CLIP's with-projection model); patch features come from the tower
    source = next((m for m in vision.modules() if type(m) is type(tower)), None)
    if source is None:
        raise ValueError(f"the vision encoder ({type(vision).__name__}) holds no {type(tower).__name__}, Llava's tower")
    tower.load_state_dict(source.state_dict())
    linears = [m for m in projector.modules() if isinstance(m, nn.Linear)]
    llava.model.multi_modal_projector.linear_1.load_state_dict(linears[0].state_dict())
    llava.model.multi_modal_projector.linear_2.load_state_dict(linears[1].state_dict())
    llava.model.language_model.load_state_dict(language.base_model.state_dict())
    llava.lm_head.load_state_dict(language.get_output_embeddings().state_dict())
    llava.generation_config = language.generation_config
    return llava


def llava_processor(image_processor: Any, tokenizer: Any, patch_size: int, cfg: ProjectorModelConfig,
                    num_image_tokens: int) -> LlavaProcessor:
    """A LlavaProcessor that expands `<image>` into as many tokens as plait's processor inserts."""
    size = image_processor.crop_size or image_processor.size
    height, width = size.get("height", size.get("shortest_edge")), size.get("width", size.get("shortest_edge"))
    patches = (height // patch_size) * (width // patch_size)
    return LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=patch_size,
        vision_feature_select_strategy="default" if cfg.vision.drop_cls else "full", image_token=cfg.image_token,
        # tokens beyond the patches: CLIP's class token (which strategy "default" then drops again)
        num_additional_image_tokens=num_image_tokens - patches + (1 if cfg.vision.drop_cls else 0),
    )
