"""What every family's model config is: the `family` discriminator and the checks the schema asks of it."""

from __future__ import annotations

from typing import Any, ClassVar

from plait.core.strict import Strict


class FamilyConfig(Strict):
    """Base of `model:` sections. A family subclasses it with `family: Literal["<name>"]` and its own fields."""

    family: str
    """Model family (the discriminator)."""

    def media_token(self) -> str:
        """The placeholder that marks where media goes in a prompt (sources that write prompts use it)."""
        return "<image>"

    def text_model(self) -> tuple[str, Any, Any] | None:
        """The text side: (dotted key, Component, TokenizerConfig) of the model that reads and writes text, for
        tools that count tokens without building the model (`plait data check`); None: the family has none."""
        return None

    def trainable_problems(self, parts: list[str], groups: tuple[str, ...]) -> list[str]:
        """Why a stage cannot train `parts`, given the family's declared groups; nothing when it can."""
        return [f"unknown part {p!r}; parts: {', '.join(groups)}" for p in parts if p not in groups]

    def default_eval_task(self, supported: tuple[str, ...]) -> str:
        """`eval.task` when the experiment names none: by default the family's first."""
        return supported[0]

    def eval_task_problem(self, task: str) -> str | None:
        """Why this model (not just its family) cannot be scored by `task`, or None."""
        return None

    def differences_from(self, saved: "FamilyConfig") -> list[str]:
        """Fields (model.x.y) where this model is not `saved`'s; `init_from` refuses a run when any differ.
        The default ignores only `freeze` keys; families that allow more override it."""
        return [f"model.{d}" for d in config_differences(_drop(saved.model_dump(mode="json")),
                                                          _drop(self.model_dump(mode="json")))]


class PartsConfig(FamilyConfig):
    """A model of named parts (fields of the config, each with a `freeze` flag) that trains every part not frozen."""

    PARTS: ClassVar[tuple[str, ...]] = ()
    """The part fields, which are also the stage groups."""

    def default_trainable(self) -> list[str]:
        """The parts trained when the experiment has no stages: every part not frozen."""
        return [p for p in self.PARTS if not getattr(self, p).freeze]

    def trainable_problems(self, parts: list[str], groups: tuple[str, ...] = ()) -> list[str]:
        """Why a stage cannot train `parts`: unknown names, frozen parts; nothing when it can."""
        problems = super().trainable_problems(parts, groups or self.PARTS)
        return problems + [f"`{p}` is frozen (model.{p}.freeze: true); set freeze: false to train it in a stage"
                           for p in parts if p in self.PARTS and getattr(self, p).freeze]


def tokenizer_problem(tokenizer: Any, pretrained: str | None, what: str = "a language model") -> str | None:
    """Why a model has no tokenizer to use: `what` is built from a config (no `pretrained` checkpoint) and the
    TokenizerConfig names neither one to load nor one to train; None when it has one."""
    if tokenizer.pretrained is None and tokenizer.train is None and pretrained is None:
        return (f"tokenizer: {what} built from a config needs `tokenizer.train` (e.g. {{kind: wordlevel}}) "
                "or `tokenizer.pretrained`")
    return None


def _drop(value: Any, key: str = "freeze") -> Any:
    if isinstance(value, dict):
        return {k: _drop(v, key) for k, v in value.items() if k != key}
    return value


def config_differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two dumped configs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in config_differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]
