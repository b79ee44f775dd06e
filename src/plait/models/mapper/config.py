"""Config of the mapper family: feature or pose sequences -> mapper -> transformers encoder-decoder."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from plait.core.strict import Strict
from plait.models.components.config import Component, TokenizerConfig
from plait.models.config import FamilyConfig, tokenizer_problem

Activation = Literal["gelu", "relu", "silu", "tanh"]


class LinearMapper(Strict):
    """One linear layer per frame, from the input features to the backbone's width (MultimodalHugs' `linear`)."""

    kind: Literal["linear"] = "linear"
    """Mapper kind (the discriminator)."""


class MLPMapper(Strict):
    """An MLP adapter per frame: `layers` linear layers with `activation` between them."""

    kind: Literal["mlp"] = "mlp"
    """Mapper kind (the discriminator)."""
    layers: int = Field(2, ge=2, le=8)
    """Number of linear layers."""
    hidden_size: int | None = Field(None, ge=1)
    """Width of the hidden layers (None = the backbone's width)."""
    activation: Activation = "gelu"
    """Activation between layers."""


class ConvMapper(Strict):
    """Strided 1-D convolutions over time: each layer divides the sequence length by `stride`."""

    kind: Literal["conv"] = "conv"
    """Mapper kind (the discriminator)."""
    layers: int = Field(1, ge=1, le=4)
    """Number of convolution layers (the sequence gets `stride ** layers` times shorter)."""
    kernel_size: int = Field(3, ge=1, le=31)
    """Frames each output position sees, per layer."""
    stride: int = Field(2, ge=1, le=8)
    """Temporal stride of each layer."""
    activation: Activation = "gelu"
    """Activation after each layer but the last."""


Mapper = Annotated[LinearMapper | MLPMapper | ConvMapper, Field(discriminator="kind")]


class SignalConfig(Strict):
    """How each sample's signal (.npy features or .pose file) becomes a (frames, features) sequence."""

    fps: float | None = Field(None, gt=0)
    """Frame rate of .npy files, needed only to cut clips by signal_start/signal_end (.pose files carry theirs)."""
    frame_stride: int = Field(1, ge=1)
    """Keep every N-th frame (1 = all frames), after cutting the clip."""
    max_frames: int | None = Field(None, ge=1)
    """Samples with more frames than this (after cutting and striding) are skipped and counted (None = no limit)."""
    hide_legs: bool = True
    """Pose files: zero the leg keypoints (pose-format's pose_hide_legs)."""
    reduce_holistic: bool = True
    """Pose files: keep the face contour of MediaPipe Holistic poses, drop world landmarks (reduce_holistic)."""
    normalize: bool = True
    """Pose files: centre and scale by the shoulders (pose-format's Pose.normalize)."""
    cache_poses: bool = True
    """Pose files: keep each preprocessed clip under $PLAIT_CACHE/poses (keyed by the file's content and these
    settings), so later epochs, evaluations and runs skip parsing it; false reads the file every time."""


class BackboneConfig(Component):
    """The encoder-decoder: any transformers seq2seq LM (T5, mT5, BART, mBART, M2M100, NLLB, Marian...)."""

    role: ClassVar[str] = "seq2seq"  # checked against transformers' seq2seq models (plait.models.preflight)


class MapperModelConfig(FamilyConfig):
    """Signal frames are normalised, mapped to the backbone's width and fed to its encoder as embeddings."""

    family: Literal["mapper"] = "mapper"
    """Model family (the discriminator)."""
    signal: SignalConfig = SignalConfig()
    """Reading and preprocessing of the input sequences."""
    layer_norm: bool = True
    """Layer norm over each frame's features before the mapper (MultimodalHugs' layer_norm_before)."""
    mapper: Mapper = LinearMapper()
    """Mapper from frame features to the backbone's embedding width."""
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    """Dropout on the mapper's output."""
    backbone: BackboneConfig
    """Encoder-decoder backbone."""
    tokenizer: TokenizerConfig = TokenizerConfig()
    """Tokenizer (defaults to the backbone's checkpoint)."""
    new_tokens: list[str] = []
    """Tokens added to the vocabulary besides the `__xx__` tags found in the training prompts (e.g. __dgs__)."""
    token_init: Literal["mean", "normal"] = "mean"
    """New token rows: mean = mean of the existing ones + noise of 1% of their spread; normal = N(0, 0.02); seeded."""

    def text_model(self) -> tuple[str, BackboneConfig, TokenizerConfig]:
        return "model.backbone", self.backbone, self.tokenizer

    @model_validator(mode="after")
    def _tokenizer_source(self) -> MapperModelConfig:
        if problem := tokenizer_problem(self.tokenizer, self.backbone.pretrained, "a backbone"):
            raise ValueError(problem)
        return self
