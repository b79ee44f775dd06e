"""The one list of model families: what each is called, its config, where its code lives, what it can do.

The schema's `model` union, `get_family`, the CLI help and the README's family table are derived from it,
so a new family is a folder and one `register(FamilySpec(...))` line; nothing else asks "which family is
this?". This module does not import torch: validation reads capabilities without building anything.
Families outside plait register through the `plait.families` entry-point group (each entry a FamilySpec).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from plait.models.config import FamilyConfig

if TYPE_CHECKING:
    from plait.models.family import Family

EVAL_TASKS = ("generate", "classify", "perplexity", "multiple_choice")
"""Evaluation tasks a family can declare (each one is defined in plait.evaluate.tasks)."""


@dataclass(frozen=True)
class Capabilities:
    """What a family can do, as data the schema checks at `plait validate`."""

    stage_groups: tuple[str, ...] = ()
    """Parameter groups `stages[].trainable` may name; empty: the family trains in one stage only."""
    packing: bool = False
    """`train.padding_free` is allowed (the model keeps packed sequences apart by position ids)."""
    eval_tasks: tuple[str, ...] = ("generate",)
    """Evaluation tasks (`eval.task`) it can be scored on; the first is the default."""
    export: tuple[str, ...] = ()
    """What `plait export` writes for it (e.g. llava, transformers); empty: no export."""
    chat_media: tuple[str, ...] | None = ()
    """Media `plait chat`/`serve` accept beside text (image, pose, features); None: no chat at all."""
    bench: bool = False
    """`plait bench` can time it beside a hand-written loop."""


@dataclass(frozen=True)
class FamilySpec:
    """One registry entry."""

    name: str
    """The `model.family` value."""
    config: type[FamilyConfig]
    """Its pydantic config (a torch-free module), with `family: Literal[name]`."""
    implementation: str
    """`module:attribute` of its Family object, imported only when a model is built or loaded."""
    capabilities: Capabilities
    """What it can do."""
    summary: str
    """One line for `plait --help` and the README."""


_FAMILIES: dict[str, FamilySpec] = {}
_LOADED: dict[str, "Family"] = {}
_LISTENERS: list[Callable[[], None]] = []
_ENTRY_POINTS_READ = False


def register(spec: FamilySpec) -> FamilySpec:
    """Add (or replace) a family; the schema is rebuilt to accept it."""
    if spec.config.model_fields.get("family") is None or spec.config.model_fields["family"].default != spec.name:
        raise ValueError(f"family {spec.name!r}: its config needs `family: Literal[{spec.name!r}] = {spec.name!r}`")
    unknown = [t for t in spec.capabilities.eval_tasks if t not in EVAL_TASKS]
    if unknown or not spec.capabilities.eval_tasks:
        raise ValueError(f"family {spec.name!r}: eval_tasks must be a non-empty subset of {EVAL_TASKS}")
    _FAMILIES[spec.name] = spec
    _LOADED.pop(spec.name, None)
    for listener in _LISTENERS:
        listener()
    return spec


def unregister(name: str) -> None:
    """Remove a family (tests that register a toy one clean up with this)."""
    _FAMILIES.pop(name, None)
    _LOADED.pop(name, None)
    for listener in _LISTENERS:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Call `listener` whenever the registry changes (the schema rebuilds its union)."""
    _LISTENERS.append(listener)


def specs() -> list[FamilySpec]:
    """Every registered family, in registration order."""
    _read_entry_points()
    return list(_FAMILIES.values())


def spec(name: str) -> FamilySpec:
    """The entry of `name` (a validated config's discriminator, so it exists)."""
    _read_entry_points()
    return _FAMILIES[name]


def capabilities(name: str) -> Capabilities:
    """What family `name` can do."""
    return spec(name).capabilities


def get_family(name: str) -> "Family":
    """The Family object of `name`, imported on first use."""
    if name not in _LOADED:
        module, _, attr = spec(name).implementation.partition(":")
        _LOADED[name] = getattr(importlib.import_module(module), attr)
    return _LOADED[name]


def family_table() -> str:
    """The README's table of families (tests/unit/test_registry.py keeps the README equal to it)."""
    def listed(values: tuple[str, ...] | None) -> str:
        return "no chat" if values is None else (", ".join(values) or "-")

    rows = ["| `model.family` | what it is | stages | packing | eval tasks | export | chat media |",
            "|---|---|---|---|---|---|---|"]
    for s in specs():
        c = s.capabilities
        rows.append(f"| `{s.name}` | {s.summary} | {listed(c.stage_groups)} | {'yes' if c.packing else 'no'} | "
                    f"{listed(c.eval_tasks)} | {listed(c.export)} | {listed(c.chat_media) if c.chat_media else 'text'} |")
    return "\n".join(rows)


def _read_entry_points() -> None:
    global _ENTRY_POINTS_READ
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ = True
    from importlib.metadata import entry_points

    for point in entry_points(group="plait.families"):
        register(point.load())


def _builtin() -> None:
    from plait.models.adapter.config import AdapterModelConfig
    from plait.models.flamingo.config import FlamingoModelConfig
    from plait.models.git.config import GitModelConfig
    from plait.models.mapper.config import MapperModelConfig
    from plait.models.projector.config import ProjectorModelConfig
    from plait.models.text.config import TextModelConfig

    register(FamilySpec(
        "projector", ProjectorModelConfig, "plait.models.projector.build:PROJECTOR",
        Capabilities(stage_groups=("vision", "projector", "language", "lora"), packing=True,
                     eval_tasks=("generate", "multiple_choice", "perplexity"), export=("llava", "transformers"),
                     chat_media=("image",), bench=True),
        "LLaVA-style: vision encoder -> projector -> causal LM, (Q)LoRA, stages"))
    register(FamilySpec(
        "mapper", MapperModelConfig, "plait.models.mapper.build:MAPPER",
        Capabilities(eval_tasks=("generate", "multiple_choice", "perplexity"), chat_media=("pose", "features")),
        "pose or feature sequences -> mapper -> encoder-decoder (sign-language translation)"))
    register(FamilySpec(
        "adapter", AdapterModelConfig, "plait.models.adapter.build:ADAPTER",
        Capabilities(eval_tasks=("generate", "multiple_choice", "perplexity"), chat_media=("image",)),
        "LaVIN's Mixture-of-Modality Adaptation: routed adapters in a frozen LM and vision encoder"))
    register(FamilySpec(
        "text", TextModelConfig, "plait.models.text.build:TEXT",
        Capabilities(eval_tasks=("perplexity", "classify", "generate"), export=("transformers",), chat_media=None),
        "text-only transformers LM: causal LM, masked LM (BERT-style) or sequence classification"))
    register(FamilySpec(
        "flamingo", FlamingoModelConfig, "plait.models.flamingo.build:FLAMINGO",
        Capabilities(stage_groups=FlamingoModelConfig.PARTS, eval_tasks=("generate", "perplexity"), chat_media=("image",)),
        "Flamingo: vision encoder -> Perceiver resampler -> gated cross-attention around any causal LM's layers"))
    register(FamilySpec(
        "git", GitModelConfig, "plait.models.git.build:GIT",
        Capabilities(stage_groups=GitModelConfig.PARTS, eval_tasks=("generate", "perplexity"), export=("transformers",),
                     chat_media=("image",)),
        "GIT: image tokens before the text in GitForCausalLM, its encoder replaceable; text-only batches"))


_builtin()
