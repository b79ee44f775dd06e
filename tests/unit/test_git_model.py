"""GIT: logits have the text positions (image positions dropped); text-only batches train; a replaced encoder; save/load/export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import GitForCausalLM

from plait.data.sample import Sample
from plait.models.components.loss import token_loss
from plait.models.git.build import build, export_git, load, save
from plait.models.git.config import GitModelConfig
from plait.train.seed import seed_everything
from tests.tiny_families import GIT_CONFIG as GIT

DINO = {"model_type": "vit", "image_size": 24, "patch_size": 4, "hidden_size": 20, "intermediate_size": 24,
        "num_hidden_layers": 1, "num_attention_heads": 2}


def config(**updates) -> GitModelConfig:
    return GitModelConfig.model_validate({"family": "git", "language": {"config": GIT},
                                          "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 64}}, **updates})


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> list[Sample]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("git")
    out = []
    for i, colour in enumerate(["red", "green", "blue", "red"]):
        path = folder / f"{i}.png"
        Image.new("RGB", (16, 16), colour).save(path)
        out.append(Sample(id=str(i), prompt="", target=f"a {colour} square", media=path))
    return out + [Sample(id="t", prompt="", target="the cat sat on the mat", media=None)]


def built_for(cfg: GitModelConfig, samples):
    seed_everything(0)
    return build(cfg, samples)


def test_logits_have_the_text_positions_and_the_loss_is_gits_own(samples) -> None:
    built = built_for(config(), samples)
    batch = built.processor.collate([built.processor.encode_train(s) for s in samples[:2]])
    built.model.eval()  # GIT's dropout off, so the two losses see the same activations
    out = built.model(**batch)
    assert built.info["image_tokens"] == (16 // 8) ** 2 + 1
    assert out.logits.shape[:2] == (2, batch["input_ids"].shape[1])
    assert torch.equal(out.logits, built.model.git(**batch).logits[:, 5:])
    # the loss is transformers' own GitForCausalLM loss on the same batch
    reference = built.model.git(**batch).loss
    assert torch.allclose(out.loss, reference)


def test_text_only_batch_trains(samples) -> None:
    built = built_for(config(), samples)
    batch = built.processor.collate([built.processor.encode_train(samples[-1])])
    assert "pixel_values" not in batch
    with pytest.raises(ValueError):  # what GitForCausalLM alone does with it
        built.model.git(**batch)
    out = built.model(**batch)
    assert out.logits.shape[1] == batch["input_ids"].shape[1]
    expected = token_loss(out.logits[:, :-1], batch["labels"][:, 1:])
    assert torch.equal(out.loss, expected)
    out.loss.backward()
    grads = [p.grad for p in built.model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_replaced_encoder_sets_tokens_and_fresh_projection(samples) -> None:
    built = built_for(config(vision={"config": DINO}), samples)
    assert built.info["image_tokens"] == (24 // 4) ** 2 + 1  # the encoder's own size, not GIT's 16 px
    git = built.model.git.git
    assert type(git.image_encoder).__name__ == "ViTModel"
    assert git.visual_projection.visual_projection[0].in_features == 20
    assert not any(p.requires_grad for p in git.image_encoder.parameters())  # frozen, as BabyLM's DINO
    batch = built.processor.collate([built.processor.encode_train(s) for s in samples[:2]])
    assert batch["pixel_values"].shape[-1] == 24
    assert built.model(**batch).logits.shape[1] == batch["input_ids"].shape[1]
    assert built.model.git(**batch).logits.shape[1] == 37 + batch["input_ids"].shape[1]
    new = built.model.generate(**built.processor.collate_prompts([built.processor.encode_prompt(samples[0])]),
                               max_new_tokens=3, do_sample=False)
    assert new.shape[0] == 1 and 1 <= new.shape[1] <= 3


def test_save_load_and_export_give_the_same_logits(samples, tmp_path: Path) -> None:
    cfg = config()
    built = built_for(cfg, samples)
    batch = built.processor.collate([built.processor.encode_train(s) for s in samples[:3]])
    with torch.no_grad():
        for p in built.model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    built.model.eval()
    with torch.no_grad():
        expected = built.model(**batch).logits
    save(built, cfg, tmp_path / "model")
    loaded = load(tmp_path / "model")
    loaded.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model(**batch).logits, expected)
    export_git(tmp_path / "model", tmp_path / "export")
    plain = GitForCausalLM.from_pretrained(tmp_path / "export").eval()
    with torch.no_grad():
        logits = plain(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       pixel_values=batch["pixel_values"]).logits
    assert torch.allclose(logits[:, -expected.shape[1]:], expected, atol=1e-6)  # plain GIT's: image positions first


def test_export_refuses_a_replaced_encoder(samples, tmp_path: Path) -> None:
    from plait.errors import UserError

    cfg = config(vision={"config": DINO})
    save(built_for(cfg, samples), cfg, tmp_path / "model")
    with pytest.raises(UserError, match="replaces GIT's own"):
        export_git(tmp_path / "model", tmp_path / "export")


def test_config_refuses_other_model_types() -> None:
    with pytest.raises(ValueError, match="model_type must be git"):
        GitModelConfig.model_validate({"language": {"config": {"model_type": "opt"}},
                                       "tokenizer": {"train": {"kind": "wordlevel"}}})
