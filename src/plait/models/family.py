"""The family interface: how a model family builds, saves and reloads a model and its processor."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from plait.data.sample import Sample


@dataclass
class Built:
    """A model with the processor that turns samples into its inputs, and facts about how it was built."""

    model: nn.Module
    processor: Any
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    """The entry points every family provides."""

    build: Callable[[Any, list[Sample], float], Built]
    """(model config, training samples, label smoothing) -> Built, random parts initialised under the seed."""
    save: Callable[[Built, Any, Path], None]
    """(built, model config, folder): write weights, configs, tokenizer and processor."""
    load: Callable[[Path], Built]
    """(folder) -> Built, offline, from what `save` wrote."""
    check: Callable[[Sample], str | None]
    """Why a sample's media cannot be used (missing, empty, unreadable), or None; runs before any build."""
    check_with: Callable[[Any], Callable[[Sample], str | None]] | None = None
    """(model config) -> a check that also applies the config's limits (e.g. max frames); None = `check`."""

    def checker(self, cfg: Any) -> Callable[[Sample], str | None]:
        """The sample check for this model config."""
        return self.check_with(cfg) if self.check_with is not None else self.check


def get_family(name: str) -> Family:
    """The family registered under `name` (names come from the validated config's discriminator)."""
    from plait.models.mapper.build import MAPPER
    from plait.models.projector.build import PROJECTOR
    from plait.models.text.build import TEXT

    families = {"projector": PROJECTOR, "mapper": MAPPER, "text": TEXT}
    return families[name]
