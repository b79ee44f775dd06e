"""Export a saved projector-family model as a folder plain transformers (and peft, for an adapter) loads.

Models Llava can express become LlavaForConditionalGeneration; the others (pooled image features, other
projectors) become a small remote-code model (trust_remote_code=True) running plait's own forward. Either way
the folder holds a LlavaProcessor that expands the image token as plait does, and an unmerged LoRA adapter sits
in adapter/ for peft, with its base in 4 bits when the run trained on a 4-bit model.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from safetensors.torch import save_file
from torch import nn

from plait.models.components.peft import adapter_state, bnb_config, lora_module_names
from plait.models.projector.build import load
from plait.models.projector.config import ProjectorModelConfig
from plait.models.projector.llava import llava_misfit, llava_processor, to_llava

ADAPTER = "adapter"
"""Sub-folder of an export that holds the unmerged LoRA adapter."""


def export_model(folder: Path, target: Path, merge: bool) -> dict[str, Any]:
    """Write the model saved in `folder` to `target` (created whole, or not at all); return the export record."""
    meta = json.loads((folder / "plait_model.json").read_text())
    cfg = ProjectorModelConfig.model_validate(meta["model"])
    built = load(folder, quantize=False)  # a 4-bit model is exported from its full-precision checkpoint
    model = built.model
    vision = model.vision.merge_and_unload() if cfg.vision.lora else model.vision
    keep_adapter = cfg.language.lora is not None and not merge
    lora_names, lora_state = [], {}
    if keep_adapter:
        lora_names, lora_state = lora_module_names(model.language), adapter_state(model.language)
        language = model.language.unload()
    else:
        language = model.language.merge_and_unload() if cfg.language.lora else model.language
    llava = llava_misfit(cfg) is None
    # where the language model's modules sit in the exported model: Llava splits off the head
    lm_at = ("model.language_model", "") if llava else (f"vlm.language.{language.base_model_prefix}", "vlm.language.")
    quantized = keep_adapter and cfg.language.quantization is not None
    n_image = built.processor.num_image_tokens
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        full, out = Path(tmp) / "full", Path(tmp) / "export"
        if llava:
            to_llava(vision, model.projector, language, cfg, model.image_token_id, n_image).save_pretrained(full)
        else:
            _save_remote(vision, model.projector, language, cfg, model.image_token_id, full)
        if quantized:
            head = next(n for n, m in language.named_modules() if m is language.get_output_embeddings())
            _quantize(full, out, cfg, llava, head)
        else:
            full.rename(out)
        tokenizer = with_bos(built.processor.tokenizer)
        patch = vision.config.patch_size if cfg.vision.feature == "patch" else _image_side(built.processor)
        llava_processor(built.processor.image_processor, tokenizer, patch, cfg, n_image).save_pretrained(out)
        if keep_adapter:
            def move(path: str) -> str:
                inside = path == language.base_model_prefix or path.startswith(f"{language.base_model_prefix}.")
                return lm_at[0] + path[len(language.base_model_prefix):] if inside else lm_at[1] + path

            _write_adapter(folder / "adapter", lora_state, lora_names, move, out / ADAPTER)
        record = {"class": "LlavaForConditionalGeneration" if llava else "PlaitVLMForConditionalGeneration",
                  "trust_remote_code": not llava, "merged": not keep_adapter,
                  "adapter": ADAPTER if keep_adapter else None, "quantized_4bit": quantized,
                  "image_tokens": n_image, "prompt": prompt_format(cfg)}
        (out / "plait_export.json").write_text(json.dumps(record, indent=2))
        out.rename(target)
    return record


def prompt_format(cfg: ProjectorModelConfig) -> str:
    """The prompt as text for the exported processor, which expands the image token and adds BOS.

    plait encodes prefix, suffix and prompt apart; one text with a space before the prompt encodes the same
    with word-level and SentencePiece tokenizers (byte-level BPE may split the joins differently).
    """
    if cfg.placement == "between":
        return f"{cfg.prefix}{cfg.image_token}{cfg.suffix} {{prompt}}"
    return f"{cfg.image_token}{{prompt}} (or the prompt with {cfg.image_token} where the image goes)"


def with_bos(tokenizer: Any) -> Any:
    """The tokenizer, made to start every text with BOS as plait's processor does (trained tokenizers do not)."""
    from tokenizers import processors

    bos = tokenizer.bos_token
    if bos is None or tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]:
        return tokenizer
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tokenizer.bos_token_id)])
    return tokenizer


def _image_side(processor: Any) -> int:
    size = processor.image_processor.crop_size or processor.image_processor.size
    return size.get("height", size.get("shortest_edge"))


def _save_remote(vision: nn.Module, projector: nn.Module, language: nn.Module, cfg: ProjectorModelConfig,
                 image_token_id: int, folder: Path) -> None:
    """The remote-code model's config, code and weights (plait's module names under `vlm.`)."""
    folder.mkdir(parents=True)
    text = language.config.to_dict()
    text.pop("quantization_config", None)
    linears = [m for m in projector.modules() if isinstance(m, nn.Linear)]
    config = {
        "model_type": "plait_vlm", "architectures": ["PlaitVLMForConditionalGeneration"],
        "auto_map": {"AutoConfig": "modeling_plait_vlm.PlaitVLMConfig",
                     "AutoModelForImageTextToText": "modeling_plait_vlm.PlaitVLMForConditionalGeneration"},
        "vision_config": vision.config.to_dict(), "text_config": text, "vision_class": type(vision).__name__,
        "image_token_id": image_token_id, "feature": cfg.vision.feature, "layer": cfg.vision.layer,
        "drop_cls": cfg.vision.drop_cls, "projector_in": linears[0].in_features, "projector_layers": len(linears),
        "projector_activation": cfg.projector.activation, "generation": language.generation_config.to_diff_dict(),
        "dtype": str(next(language.parameters()).dtype).removeprefix("torch."),
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    state = {f"vlm.vision.{k}": v for k, v in vision.state_dict().items()}
    state |= {f"vlm.projector.{k}": v for k, v in projector.state_dict().items()}
    state |= {f"vlm.language.{k}": v for k, v in language.state_dict().items()}
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _copy_code(folder)


def _copy_code(folder: Path) -> None:
    from plait.models.components import loss, projector as mlp_projector
    from plait.models.projector import model

    # remote_code.py is never imported inside plait: its relative imports name these copies
    sources = {Path(__file__).with_name("remote_code.py"): "modeling_plait_vlm.py", Path(model.__file__): "model.py",
               Path(mlp_projector.__file__): "mlp_projector.py", Path(loss.__file__): "loss.py"}
    for source, name in sources.items():
        shutil.copyfile(source, folder / name)


def _quantize(full: Path, out: Path, cfg: ProjectorModelConfig, llava: bool, head: str) -> None:
    """Quantize the language model as plait did when loading it, and save the 4-bit weights (transformers' format)."""
    from transformers import AutoModelForImageTextToText

    q = cfg.language.quantization
    # plait quantizes only the language model's linear layers; its output head stays full precision
    keep = ["model.vision_tower", "model.multi_modal_projector", head] if llava else [
        "vlm.vision", "vlm.projector", f"vlm.language.{head}"]
    model = AutoModelForImageTextToText.from_pretrained(
        full, trust_remote_code=not llava,
        quantization_config=bnb_config(q.quant_type, q.double_quant, q.compute_dtype, keep))
    model.save_pretrained(out)
    if not llava:
        _copy_code(out)
    if (full / "generation_config.json").exists() and not (out / "generation_config.json").exists():
        shutil.copyfile(full / "generation_config.json", out / "generation_config.json")


def _write_adapter(source: Path, state: dict[str, Any], modules: list[str], move: Callable[[str], str],
                   target: Path) -> None:
    """The language model's adapter with its layers renamed by `move` to where they sit in the export."""
    config = json.loads((source / "adapter_config.json").read_text())
    # exact module paths: a name pattern like q_proj would also catch the vision encoder's layers
    targets = "|".join(re.escape(move(name)) for name in modules)
    config.update(target_modules=targets, base_model_name_or_path=None, task_type=None)
    renamed = {}
    for key, value in state.items():
        path, _, rest = key.removeprefix("base_model.model.").partition(".lora_")
        renamed[f"base_model.model.{move(path)}.lora_{rest}"] = value.contiguous()
    target.mkdir(parents=True)
    (target / "adapter_config.json").write_text(json.dumps(config, indent=2))
    save_file(renamed, str(target / "adapter_model.safetensors"))
