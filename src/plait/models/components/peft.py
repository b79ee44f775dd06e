"""PEFT for model components: LoRA adapters (peft) and 4-bit loading (bitsandbytes), with their accounting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from plait.core.trainer_imports import peft_in_trainer
from plait.errors import UserError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def is_lora(name: str) -> bool:
    """Whether a parameter or state-dict key belongs to a LoRA adapter (peft names them lora_A, lora_B...)."""
    return "lora_" in name


def bnb_config(quant_type: str, double_quant: bool, compute_dtype: str, skip: list[str] | None = None) -> Any:
    """transformers' BitsAndBytesConfig for 4-bit loading; `skip` names modules kept in full precision."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=quant_type, bnb_4bit_use_double_quant=double_quant,
        bnb_4bit_compute_dtype=DTYPES[compute_dtype], llm_int8_skip_modules=skip,
    )


def prepare_quantized(model: nn.Module) -> nn.Module:
    """peft's k-bit preparation (freeze, norms in fp32); checkpointing is left to the family model."""
    from peft import prepare_model_for_kbit_training

    peft_in_trainer()

    for module in model.modules():
        # On CPUs with AVX512-BF16, bitsandbytes repacks 4-bit weights for inference at the first eval-mode,
        # no-grad forward (an evaluation) and keeps them so: later training steps then get no gradient at all.
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def add_lora(
    module: nn.Module, r: int, alpha: float, dropout: float, target_modules: list[str] | str,
    where: str, task_type: str | None = None,
) -> nn.Module:
    """`module` wrapped by peft with a LoRA adapter; checks the adapter's size against r x (in + out) per layer."""
    from peft import LoraConfig, get_peft_model

    peft_in_trainer()

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                        task_type=task_type, bias="none")
    try:
        wrapped = get_peft_model(module, config)
    except ValueError as err:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in module.named_modules() if isinstance(m, nn.Linear)})
        raise UserError(f"{where}.target_modules: {str(err).splitlines()[0]} (linear layers here: "
                        f"{', '.join(names) or 'none'})") from None
    expected = sum(r * (layer.in_features + layer.out_features) for layer in lora_layers(wrapped))
    got = sum(p.numel() for n, p in wrapped.named_parameters() if is_lora(n))
    if got != expected or expected == 0:
        raise RuntimeError(f"{where}: LoRA added {got} parameters, expected {expected} (r x (in + out) per layer)")
    return wrapped


def lora_layers(module: nn.Module) -> list[nn.Module]:
    """The layers peft replaced with LoRA layers."""
    from peft.tuners.lora import LoraLayer

    return [m for m in module.modules() if isinstance(m, LoraLayer)]


def lora_module_names(module: nn.Module) -> list[str]:
    """Dotted names (inside the wrapped model) of the layers that carry an adapter."""
    from peft.tuners.lora import LoraLayer

    base = module.get_base_model()
    return [name for name, m in base.named_modules() if isinstance(m, LoraLayer)]


def save_adapter(module: nn.Module, folder: Path) -> None:
    """The adapter alone, in peft's format (adapter_config.json + adapter_model.safetensors)."""
    module.save_pretrained(str(folder), save_embedding_layers=False)


def load_adapter(module: nn.Module, folder: Path) -> None:
    """Load adapter weights written by `save_adapter` into a model carrying the same adapter."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    file = folder / "adapter_model.safetensors"
    if not file.is_file():
        raise UserError(f"{folder}: no adapter_model.safetensors (the saved model is incomplete)")
    result = set_peft_model_state_dict(module, load_file(str(file)))
    missing = [k for k in result.missing_keys if is_lora(k)]
    if result.unexpected_keys or missing:
        raise UserError(f"{file}: does not match the configured LoRA adapter "
                        f"(missing {missing[:3]}, unexpected {list(result.unexpected_keys)[:3]})")


def adapter_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's weights keyed as peft saves them (base_model.model.<layer>.lora_A.weight)."""
    from peft import get_peft_model_state_dict

    return get_peft_model_state_dict(module, save_embedding_layers=False)


def base_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A wrapped model's base weights under the names the unwrapped model uses (adapters left out)."""
    inner = module.get_base_model() if hasattr(module, "get_base_model") else module
    return {k.replace(".base_layer.", "."): v for k, v in inner.state_dict().items() if not is_lora(k)}

