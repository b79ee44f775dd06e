"""The family contract: how every model family builds, saves, reloads and checks a model and its processor.

A family is a folder under plait/models/ (config.py, model.py, processor.py, build.py) plus one
`register(FamilySpec(...))` line in plait/models/registry.py. What a family can do (stages, packing,
evaluation tasks, export, chat media) is declared there as data and checked by the schema; the rest of
plait calls only the methods below and the Processor protocol, never probes with getattr.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from plait.data.sample import Sample
from plait.errors import UserError
from plait.models.config import FamilyConfig
from plait.models.registry import get_family  # noqa: F401  (re-exported: the registry is the one source)

if TYPE_CHECKING:
    import torch
    from torch import nn


@runtime_checkable
class Processor(Protocol):
    """Samples in, tensors out; generated ids back to text. plait.models.components.text.TextProcessor
    implements the text side and the optional hooks, so a family writes only what its media need."""

    tokenizer: Any
    """The transformers tokenizer (saved with the model; chat streams through it)."""
    features: Any
    """A frozen-encoder feature cache filled before training, or None."""

    def encode_train(self, sample: Sample) -> dict[str, Any]:
        """One training example: token ids, labels (-100 where no loss) and the media's tensors."""

    def encode_train_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """Training examples for a batch of samples, each exactly what `encode_train` gives for it."""

    def collate(self, batch: list[dict[str, Any]]) -> dict[str, "torch.Tensor"]:
        """A right-padded training batch: keyword arguments of the model's forward."""

    def encode_prompt(self, sample: Sample) -> dict[str, Any]:
        """One prompt to generate from."""

    def encode_prompt_many(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """Prompts for a batch of samples, each exactly what `encode_prompt` gives for it."""

    def collate_prompts(self, batch: list[dict[str, Any]]) -> dict[str, "torch.Tensor"]:
        """A left-padded prompt batch: keyword arguments of the model's generate."""

    def decode(self, ids: "torch.Tensor") -> list[str]:
        """Generated ids to texts."""

    def target_length(self, text: str) -> int:
        """Tokens the model must produce for `text` (sets the generation budget)."""

    def length(self, sample: Sample) -> int:
        """Tokens of the encoded training sample, without loading media (group_by_length)."""

    def prepare_training(self, samples: list[Sample]) -> int:
        """Work done once before training (e.g. filling `features`); how many items it computed."""

    def perplexity_scoring(self, mask_seed: int) -> tuple[str, int | None, Any]:
        """What evaluation task `perplexity` scores: (name, label shift or None for the model's `label_shift`,
        a masking collator or None)."""

    def scoring_batch(self, batch: list[dict[str, Any]], masker: Any) -> dict[str, "torch.Tensor"]:
        """The batch perplexity scores (labels included)."""

    def save(self, folder: Path) -> None:
        """Write tokenizer and media processors into the model folder."""


@dataclass
class Built:
    """A model with the processor that turns samples into its inputs, and facts about how it was built."""

    model: "nn.Module"
    processor: Processor
    info: dict[str, Any] = field(default_factory=dict)


def with_position_limit(built: Built) -> Built:
    """`built` with its processor told how many positions the model takes (chat warns beyond); the model's
    `config` is its language model's, as the Trainer reads it."""
    built.processor.max_positions = getattr(built.model.config, "max_position_embeddings", None)
    return built


@dataclass(frozen=True)
class BuildOptions:
    """What the experiment (not the model config) decides about building a model."""

    label_smoothing: float = 0.0
    """Label smoothing of the training loss."""
    quantize: bool = True
    """Load 4-bit parts in 4 bits (False: in full precision, e.g. for export)."""


class Family(ABC):
    """What every family implements. Register an instance's `module:attribute` in the registry."""

    name: str = ""
    """The family's registry name."""

    @abstractmethod
    def build(self, cfg: FamilyConfig, train_samples: list[Sample], options: BuildOptions) -> Built:
        """Build from the config, random parts initialised under the caller's seed."""

    @abstractmethod
    def save(self, built: Built, cfg: FamilyConfig, folder: Path) -> None:
        """Write weights, configs, tokenizer and processor to `folder`, with plait_model.json
        ({"family": name, "model": cfg dumped, ...}) that `load` reads."""

    @abstractmethod
    def load(self, folder: Path, cfg: FamilyConfig | None = None, options: BuildOptions = BuildOptions()) -> Built:
        """Rebuild `save`'s model offline. `cfg` (init_from) is the experiment's model config, already checked
        by `differences_from` against the saved one: it decides what trains from here on."""

    def check(self, sample: Sample) -> str | None:
        """Why a sample's media cannot be used (missing, empty, unreadable), or None; runs before any build."""
        return None

    def checker(self, cfg: FamilyConfig) -> Callable[[Sample], str | None]:
        """The sample check under this config's limits (e.g. max frames); by default `check`."""
        return self.check

    def export(self, folder: Path, target: Path, merge: bool) -> dict[str, Any]:
        """Write the saved model in `folder` as a folder plain transformers loads; return what was written."""
        raise UserError(f"plait export: the {self.name} family has no export")


def saved_family(folder: Path) -> str:
    """The family name a saved model folder records."""
    import json

    meta = folder / "plait_model.json"
    try:
        return str(json.loads(meta.read_text())["family"])
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{meta}: not a saved plait model ({type(err).__name__})") from None
