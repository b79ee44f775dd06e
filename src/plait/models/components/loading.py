"""Build a transformers component from a checkpoint or from a config mapping (random init)."""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig

from plait.errors import UserError


def make_config(config: dict[str, Any], where: str) -> PretrainedConfig:
    """A transformers config from a mapping with `model_type`; an unknown type names the field."""
    values = dict(config)
    model_type = values.pop("model_type")
    try:
        return AutoConfig.for_model(model_type, **values)
    except ValueError as err:
        raise UserError(f"{where}.config.model_type: {model_type!r} is not a transformers model type ({err})") from None


def load_pretrained(cls: Any, name: str, where: str, **kwargs: Any) -> Any:
    """`cls.from_pretrained(name)` with a one-line error when the checkpoint cannot be found offline."""
    try:
        return cls.from_pretrained(name, **kwargs)
    except OSError as err:
        raise UserError(
            f"{where}.pretrained: cannot load {name!r} ({str(err).splitlines()[0]}); "
            "give a local folder or a checkpoint in the Hugging Face cache"
        ) from None
