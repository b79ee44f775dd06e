"""The adapter family on a 4-bit base (bitsandbytes via the peft helpers) and with gradient checkpointing."""

from __future__ import annotations

import pytest
import torch

from plait.models.adapter.build import build
from plait.models.adapter.config import AdapterModelConfig
from tests.tiny_adapter import samples, tiny_model
from tests.tiny_llava import tiny_clip, tiny_lm


def test_four_bit_base_keeps_adapters_in_full_precision_and_trains_them(tmp_path):
    pytest.importorskip("bitsandbytes")
    raw = tiny_model() | {"vision": {"pretrained": str(tiny_clip()), "every": 1, "hidden": 16},
                          "language": {"pretrained": str(tiny_lm()), "quantization": {"compute_dtype": "float32"}},
                          "tokenizer": {}}
    cfg = AdapterModelConfig.model_validate(raw)
    assert cfg.layer_dropout == {"language": [0.0, 0.0], "vision": [0.0, 0.0]}  # read from the local config.json
    torch.manual_seed(0)
    built = build(cfg, samples(tmp_path))
    import bitsandbytes as bnb

    assert any(isinstance(m, bnb.nn.Linear4bit) for m in built.model.language.modules())
    trainable = built.model.trainable_parameters()
    assert all(p.dtype == torch.float32 for p in trainable.values())
    p = built.processor
    batch = p.collate([p.encode_train(s) for s in samples(tmp_path)])
    before = {n: t.detach().clone() for n, t in trainable.items()}
    optimizer = torch.optim.AdamW(list(trainable.values()), lr=1e-2)
    for _ in range(2):
        built.model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert all(not torch.equal(before[n], t) for n, t in trainable.items() if ".up_" in n)


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path):
    data = samples(tmp_path)
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        built = build(AdapterModelConfig.model_validate(tiny_model()), data)
        with torch.no_grad():  # B and D away from zero, so every adapter weight gets a gradient
            for name, param in built.model.trainable_parameters().items():
                param.add_(0.05 * torch.randn_like(param))
        if checkpointing:
            built.model.gradient_checkpointing_enable()
        built.model.train()
        p = built.processor
        built.model(**p.collate([p.encode_train(s) for s in data])).loss.backward()
        grads.append({n: t.grad.clone() for n, t in built.model.trainable_parameters().items()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6), name
