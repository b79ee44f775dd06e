"""LoRA through peft on the projector family: configuration, accounting, saving apart, and the
gradient-checkpointing trap (LoRA weights that never receive gradient)."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file
from torch.testing import assert_close

from plait.config.load import format_errors
from plait.config.schema import Experiment
from plait.errors import UserError
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.runs.rundir import create_run_dir
from plait.train.loop import train
from plait.train.seed import seed_everything
from tests.tiny import tiny

LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}


def build(**updates):
    exp = Experiment.model_validate(tiny(**updates))
    data = prepare_data(exp, dry_run=True)
    seed_everything(0)
    return exp, data, get_family("projector").build(exp.model, data.splits["train"], BuildOptions())


def lora_b(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}


def test_adapter_size_and_trainable_parts():
    exp, _, built = build(**{"model.language.lora": LORA, "model.vision.lora": {"r": 2, "target_modules": ["q_proj"]}})
    hidden, vision_hidden, layers, vision_layers = 16, 16, 1, 1
    expected_lora = layers * 2 * 4 * (hidden + hidden) + vision_layers * 2 * (vision_hidden + vision_hidden)
    groups = built.model.parameter_groups()
    assert sum(p.numel() for p in groups["lora"]) == expected_lora
    assert exp.model.default_trainable() == ["projector", "lora"]
    trainable = {n for n, p in built.model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in built.model.named_parameters() if "lora_" in n or n.startswith("projector.")}
    assert built.info["parameters"]["trainable"] == expected_lora + sum(p.numel() for p in groups["projector"])


def test_unknown_target_modules_name_the_field_and_the_layers():
    with pytest.raises(UserError, match=r"model.language.lora.target_modules: .*linear layers here: .*q_proj"):
        build(**{"model.language.lora": {**LORA, "target_modules": ["query"]}})


@pytest.mark.parametrize("language, message", [
    ({"config": {"model_type": "llama"}, "lora": LORA, "quantization": {}}, "set `pretrained`"),
    ({"pretrained": "some/lm", "quantization": {}}, "cannot be trained in full"),
    ({"pretrained": "some/lm", "lora": {**LORA, "target_modules": []}}, "at least one layer name"),
    ({"pretrained": "some/lm", "quantization": {"quant_type": "int4"}, "freeze": True}, "'nf4' or 'fp4'"),
])
def test_bad_peft_settings_are_config_errors(language, message):
    raw = tiny()
    raw["model"]["language"] = language
    raw["model"]["tokenizer"] = {}
    with pytest.raises(ValidationError) as err:
        Experiment.model_validate(raw)
    assert message in "\n".join(format_errors(err.value, Experiment, "x.yaml"))


def test_lora_weights_train_under_gradient_checkpointing_with_frozen_inputs(tmp_path):
    # projector frozen too: nothing before the language model needs gradient, the case where reentrant
    # checkpointing silently cuts the adapters off
    exp, data, built = build(**{"model.language.lora": LORA, "model.projector.freeze": True,
                                "train.gradient_checkpointing": True, "train.max_steps": 2, "train.lr": 1e-2})
    before = lora_b(built.model)
    assert before and all(b.abs().sum() == 0 for b in before.values())
    run = create_run_dir(tmp_path, "trap")
    train(exp.train, run, built, data.splits["train"], 0, lambda: {}, progress=False)
    after = lora_b(built.model)
    assert all(after[k].abs().sum() > 0 for k in before)


def test_lora_model_saves_base_and_adapter_apart_and_reloads(tmp_path):
    exp, data, built = build(**{"model.language.lora": LORA})
    with torch.no_grad():
        for p in built.model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)  # as if trained: LoRA B no longer zero
    family = get_family("projector")
    family.save(built, exp.model, tmp_path)
    base = load_file(str(tmp_path / "model.safetensors"))
    assert base and not any("lora_" in k or "base_layer" in k or k.startswith("projector.") for k in base)
    assert "language.model.layers.0.self_attn.q_proj.weight" in base  # plain transformers names
    adapter = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in k for k in adapter)
    again = family.load(tmp_path)
    batch = built.processor.collate([built.processor.encode_train(s) for s in data.splits["test"][:4]])
    built.model.eval(), again.model.eval()
    with torch.no_grad():
        assert_close(again.model(**batch).logits, built.model(**batch).logits, rtol=0, atol=0)
