"""plait's projector-family model for transformers' remote code (trust_remote_code=True).

`plait export` copies this file into an export as modeling_plait_vlm.py, beside copies of plait's model.py, loss.py and
mlp_projector.py, for models Llava cannot express (pooled image features, other projectors). It needs only torch
and transformers; its relative imports resolve in the export folder, not inside plait.
"""

from __future__ import annotations

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig, PretrainedConfig, PreTrainedModel
from transformers.configuration_utils import SubConfigSpec

from .mlp_projector import MLPProjector
from .model import ProjectorVLM


class PlaitVLMConfig(PretrainedConfig):
    """Vision encoder, projector and causal LM configs, and how image features reach the LM."""

    model_type = "plait_vlm"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_vision_model"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama"),
    }

    vision_config: dict | PretrainedConfig | None = None
    text_config: dict | PretrainedConfig | None = None
    vision_class: str = "AutoModel"
    image_token_id: int = 0
    feature: str = "patch"
    layer: int = -2
    drop_cls: bool = False
    projector_in: int = 0
    projector_layers: int = 2
    projector_activation: str = "gelu"
    generation: dict | None = None


class PlaitVLMForConditionalGeneration(PreTrainedModel):
    """plait's ProjectorVLM as a transformers model: same weights, same forward, same generation."""

    config_class = PlaitVLMConfig
    base_model_prefix = "vlm"
    input_modalities = ("image", "text")

    def __init__(self, config: PlaitVLMConfig) -> None:
        super().__init__(config)
        vision = getattr(transformers, config.vision_class)._from_config(config.vision_config)
        language = AutoModelForCausalLM.from_config(config.text_config)
        if config.generation:
            language.generation_config = GenerationConfig.from_dict(config.generation)
        projector = MLPProjector(config.projector_in, config.text_config.hidden_size, config.projector_layers,
                                 config.projector_activation)
        self.vlm = ProjectorVLM(vision, projector, language, config.image_token_id, feature=config.feature,
                                layer=config.layer, drop_cls=config.drop_cls)
        self.post_init()

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.vlm.language.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                pixel_values: torch.Tensor | None = None, labels: torch.Tensor | None = None, **kwargs):
        return self.vlm(input_ids, attention_mask=attention_mask, pixel_values=pixel_values, labels=labels)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 pixel_values: torch.Tensor | None = None, **generation) -> torch.Tensor:
        """Prompt followed by the generated tokens, as transformers' generate returns them."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        new = self.vlm.generate(input_ids, attention_mask, pixel_values, **generation)
        return torch.cat([input_ids, new.to(input_ids.device)], dim=1)
