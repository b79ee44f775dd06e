"""The mapper family: config errors, mappers, processor alignment, loss vs transformers, tokens, save/load."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import safetensors.torch
import torch
from mapper_data import TINY_M2M, TINY_T5, npy_samples

from plait.config import load_experiment
from plait.errors import ConfigError
from plait.models.components.tokenizer import train_tokenizer
from plait.models.mapper.build import build, load, save
from plait.models.mapper.config import MapperModelConfig
from plait.models.mapper.mappers import ConvMapper
from plait.train.seed import seed_everything

TARGETS = ["guten morgen", "es regnet heute", "morgen sonnig", "heute nicht"]


def config(**changes: object) -> MapperModelConfig:
    values = {"family": "mapper", "backbone": {"config": TINY_T5}, "tokenizer": {"train": {"kind": "wordlevel"}},
              "dropout": 0.0, **changes}
    return MapperModelConfig.model_validate(values)


def write_experiment(tmp_path: Path, mapper: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(f"model:\n  family: mapper\n  mapper: {{kind: {mapper}}}\n  backbone: {{pretrained: x}}\n")
    return path


def test_misspelled_mapper_kind_is_one_line_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment(write_experiment(tmp_path, "lineer"))
    assert len(err.value.lines) == 1
    line = err.value.lines[0]
    assert "exp.yaml: model.mapper:" in line and "'lineer'" in line and "'linear', 'mlp', 'conv'" in line


def test_backbone_must_be_an_encoder_decoder() -> None:
    """Checked before a run starts (plait.models.preflight: `plait run`, `plait validate --models`), not by the
    torch-free config."""
    from plait.models.preflight import check_model

    cfg = config(backbone={"config": {"model_type": "llama"}})
    with pytest.raises(ConfigError) as err:
        check_model(cfg)
    assert err.value.lines == ["model.backbone.config.model_type: 'llama' has no encoder-decoder with an LM head in "
                               "transformers (e.g. t5, mt5, bart, mbart, m2m_100, marian)"]
    check_model(config(backbone={"config": {"model_type": "t5", "d_model": 16, "num_heads": 2}}))  # no error


def test_conv_mapper_shortens_and_ignores_padding() -> None:
    torch.manual_seed(0)
    conv = ConvMapper(4, 8, layers=2, kernel_size=3, stride=2)
    frames = torch.randn(2, 11, 4)
    mask = torch.tensor([[1] * 11, [1] * 6 + [0] * 5])
    out, out_mask = conv(frames, mask)
    assert out.shape == (2, 3, 8)
    assert out_mask.tolist() == [[1, 1, 1], [1, 1, 0]]  # 11 -> 6 -> 3 and 6 -> 3 -> 2
    alone, _ = conv(frames[1:, :6], mask[1:, :6])
    torch.testing.assert_close(out[1, :2], alone[0])


def test_loss_equals_transformers_reference(tmp_path: Path) -> None:
    seed_everything(0)
    built = build(config(), npy_samples(tmp_path, TARGETS))
    processor, model = built.processor, built.model.eval()
    batch = processor.collate([processor.encode_train(s) for s in npy_samples(tmp_path, TARGETS)])
    ours = model(**batch).loss
    embeds, mask = model.encoder_inputs(batch["features"], batch["feature_mask"], batch["prompt_ids"],
                                        batch["prompt_mask"])
    reference = model.backbone(inputs_embeds=embeds, attention_mask=mask, labels=batch["labels"]).loss
    torch.testing.assert_close(ours, reference)


def test_decoder_prompt_is_forced_not_scored(tmp_path: Path) -> None:
    samples = npy_samples(tmp_path, TARGETS, prompt="__sgn__", decoder_prompt="__de__")
    seed_everything(0)
    built = build(config(), samples)
    p = built.processor
    encoded = p.encode_train(samples[0])
    de, sgn = p.tokenizer.convert_tokens_to_ids(["__de__", "__sgn__"])
    target = p.target_ids("guten morgen")
    assert encoded["prompt_ids"] == [sgn]
    assert encoded["decoder_ids"] == [p.decoder_start_id, de] + target[:-1]
    assert encoded["labels"] == [-100] + target
    prompts = p.collate_prompts([p.encode_prompt(s) for s in samples])
    generated = built.model.generate(**prompts, max_new_tokens=3, do_sample=False)
    assert generated.shape[0] == len(samples) and generated.shape[1] <= 3  # the forced prompt is cut off
    assert all(tag not in text for text in p.decode(generated) for tag in ("__de__", "__sgn__"))


def pretrained_checkpoint(folder: Path) -> Path:
    """A tiny M2M100 and tokenizer saved like a hub checkpoint (built locally)."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    tokenizer = train_tokenizer(TARGETS, "wordlevel", 100, True, [])
    values = {k: v for k, v in TINY_M2M.items() if k != "model_type"}
    model_config = AutoConfig.for_model("m2m_100", vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                                        decoder_start_token_id=tokenizer.eos_token_id, **values)
    torch.manual_seed(1)
    AutoModelForSeq2SeqLM.from_config(model_config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_new_tags_are_added_with_deterministic_initialisation(tmp_path: Path) -> None:
    checkpoint = pretrained_checkpoint(tmp_path / "ckpt")
    samples = npy_samples(tmp_path / "s", TARGETS, prompt="__dgs__", decoder_prompt="__de__")
    cfg = config(backbone={"pretrained": str(checkpoint)}, tokenizer={}, new_tokens=["__asl__"])
    runs = []
    for seed in (7, 7, 8):
        seed_everything(seed)
        runs.append(build(cfg, samples))
    first = runs[0]
    assert first.info["new_tokens"] == ["__asl__", "__de__", "__dgs__"]
    ids = first.processor.tokenizer.convert_tokens_to_ids(first.info["new_tokens"])
    weight = first.model.backbone.get_input_embeddings().weight
    assert weight.shape[0] == len(first.processor.tokenizer) == max(ids) + 1
    torch.testing.assert_close(weight, runs[1].model.backbone.get_input_embeddings().weight)
    assert not torch.equal(weight[ids], runs[2].model.backbone.get_input_embeddings().weight[ids])
    assert not torch.equal(weight[ids[0]], weight[ids[1]])
    old_mean = weight[: min(ids)].mean(dim=0)
    assert (weight[ids] - old_mean).abs().max() < 0.05 * weight[: min(ids)].std()


def test_save_load_round_trip_and_tied_checkpoints(tmp_path: Path) -> None:
    samples = npy_samples(tmp_path / "s", TARGETS, prompt="__sgn__", decoder_prompt="__de__")
    seed_everything(0)
    built = build(config(mapper={"kind": "mlp", "layers": 2, "hidden_size": 16}), samples)
    state = built.model.state_dict()
    assert "backbone.lm_head.weight" not in state and "backbone.shared.weight" in state
    safetensors.torch.save_file(state, str(tmp_path / "ckpt.safetensors"))  # what the Trainer does
    save(built, config(mapper={"kind": "mlp", "layers": 2, "hidden_size": 16}), tmp_path / "model")
    again = load(tmp_path / "model")
    for name, tensor in again.model.state_dict().items():
        torch.testing.assert_close(tensor, state[name])
    batch = built.processor.collate_prompts([built.processor.encode_prompt(s) for s in samples])
    settings = {"max_new_tokens": 4, "num_beams": 2, "do_sample": False}
    before, after = built.model.eval(), again.model.eval()
    assert torch.equal(before.generate(**batch, **settings), after.generate(**batch, **settings))
    assert again.processor.decoder_start_id == built.processor.decoder_start_id


def test_frames_and_masks_are_padded_by_length() -> None:
    from plait.data.collate import mask
    from plait.models.mapper.processor import pad_frames

    frames, valid = pad_frames([torch.ones(3, 2, dtype=torch.float64), torch.full((1, 2), 2.0)])
    assert frames.dtype == torch.float32 and valid.dtype == torch.long
    assert frames.tolist() == [[[1, 1], [1, 1], [1, 1]], [[2, 2], [0, 0], [0, 0]]]
    assert valid.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert mask([[5, 6, 7], [8], []]).tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert mask([[5, 6, 7], [8], []], "left").tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 0]]
    assert mask([[], []]).shape == (2, 0) and mask([[4]]).dtype == torch.long


def test_batched_encoding_gives_each_sample_what_encode_train_gives(tmp_path: Path) -> None:
    samples = npy_samples(tmp_path, TARGETS + [""], prompt="__sgn__", decoder_prompt="__de__")
    samples[1] = dataclasses.replace(samples[1], prompt="", decoder_prompt="")  # no prompts: nothing forced
    seed_everything(0)
    p = build(config(), samples).processor
    many, one = p.encode_train_many(samples), [p.encode_train(s) for s in samples]
    assert [{k: v for k, v in m.items() if k != "features"} for m in many] == [
        {k: v for k, v in o.items() if k != "features"} for o in one]
    assert all(torch.equal(m["features"], o["features"]) for m, o in zip(many, one))
    assert one[1]["prompt_ids"] == [] and one[1]["labels"][0] != -100
    assert one[-1]["labels"] == [-100, p.tokenizer.eos_token_id]  # an empty target: EOS alone is scored
