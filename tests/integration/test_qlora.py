"""QLoRA on CPU: a 4-bit language model with a LoRA adapter and a full projector trains, saves small files,
reloads to the same logits, and exports to a folder plain transformers + peft run with the same greedy output."""

from __future__ import annotations

import json

import pytest
import torch
from torch.testing import assert_close

from plait.cli import main
from plait.config.schema import Experiment
from plait.evaluate.generate import generate, mean_loss
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.runs.rundir import create_run_dir
from plait.train.loop import train
from plait.train.seed import seed_everything
from tests.tiny_llava import generate_fresh, pretrained_experiment, tiny_clip, tiny_lm


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qlora")
    clip, lm = tiny_clip(), tiny_lm()
    raw = pretrained_experiment(clip, lm, **{"train.max_steps": 6, "train.lr": 1e-2, "train.log_every": 1,
                                             "train.gradient_checkpointing": True})
    exp = Experiment.model_validate(raw)
    data = prepare_data(exp, dry_run=False)
    family = get_family("projector")
    seed_everything(exp.seed)
    built = family.build(exp.model, data.splits["train"], BuildOptions())
    initial = {k: v.clone() for k, v in built.model.state_dict().items()}
    # an evaluation before training: on some CPUs bitsandbytes then repacks 4-bit weights for inference only
    losses = [mean_loss(built.model, built.processor, data.splits["train"])]
    run = create_run_dir(folder / "runs", "qlora")
    train(exp.train, run, built, data.splits["train"], exp.seed, lambda: {}, progress=False)
    losses.append(mean_loss(built.model, built.processor, data.splits["train"]))
    family.save(built, exp.model, run.model)
    return {"folder": folder, "exp": exp, "built": built, "initial": initial, "run": run, "clip": clip, "lm": lm,
            "samples": data.splits["test"][:8], "losses": losses}


def test_language_model_is_4bit_and_only_adapter_and_projector_train(trained):
    model, initial = trained["built"].model, trained["initial"]
    layer = model.language.get_base_model().model.layers[0].self_attn.q_proj
    assert type(layer.base_layer).__name__ == "Linear4bit"
    assert layer.base_layer.weight.dtype == torch.uint8
    final = model.state_dict()
    lora_b = [k for k in final if "lora_B" in k]
    assert lora_b and all(initial[k].abs().sum() == 0 and final[k].abs().sum() > 0 for k in lora_b)
    assert all(not torch.equal(initial[k], final[k]) for k in final if k.startswith("projector."))
    fixed = [k for k in final if "lora_" not in k and not k.startswith("projector.")]
    assert fixed and all(torch.equal(initial[k], final[k]) for k in fixed)
    before, after = trained["losses"]
    assert after < before  # on the training set


def test_saves_adapter_and_projector_apart_in_small_files(trained):
    saved, sizes = trained["run"].model, {}
    assert (saved / "projector.safetensors").is_file() and (saved / "adapter" / "adapter_model.safetensors").is_file()
    assert not (saved / "model.safetensors").exists()  # frozen bases come back from their checkpoints
    meta = json.loads((saved / "plait_model.json").read_text())
    assert meta["bases"] == [] and meta["model"]["language"]["quantization"]["quant_type"] == "nf4"
    for name in ("clip", "lm"):
        sizes[name] = sum(p.stat().st_size for p in trained[name].glob("*.safetensors"))
    small = (saved / "projector.safetensors").stat().st_size + (saved / "adapter/adapter_model.safetensors").stat().st_size
    assert small * 5 < sizes["clip"] + sizes["lm"]


def test_reload_reproduces_logits(trained):
    built = trained["built"]
    again = get_family("projector").load(trained["run"].model)
    batch = built.processor.collate([built.processor.encode_train(s) for s in trained["samples"]])
    built.model.eval(), again.model.eval()
    with torch.no_grad():
        assert_close(again.model(**batch).logits, built.model(**batch).logits, rtol=0, atol=0)


def test_export_runs_in_plain_transformers_with_the_same_greedy_output(trained):
    built, samples, folder = trained["built"], trained["samples"], trained["folder"]
    ours = generate(built.model, built.processor, samples, 6, progress=False)
    assert any(ours)
    unmerged, merged = folder / "export", folder / "export-merged"
    assert main(["export", str(trained["run"].path), "--to", str(unmerged)]) == 0
    assert main(["export", str(trained["run"].path), "--to", str(merged), "--merge"]) == 0
    record = json.loads((unmerged / "plait_export.json").read_text())
    assert record["class"] == "LlavaForConditionalGeneration" and record["quantized_4bit"] and record["adapter"]
    assert json.loads((unmerged / "config.json").read_text())["quantization_config"]["bnb_4bit_quant_type"] == "nf4"
    assert not (merged / "adapter").exists() and "quantization_config" not in json.loads((merged / "config.json").read_text())
    results = generate_fresh([unmerged, merged], [s.media for s in samples],
                             ["<image>" + s.prompt for s in samples], 6)
    assert results[str(unmerged)]["texts"] == ours
    assert results[str(unmerged)]["class"] == "PeftModel" and "torch.uint8" in results[str(unmerged)]["weights"]
    # merged into the full-precision checkpoint: a standard model without 4-bit weights, close to the 4-bit one
    assert results[str(merged)]["weights"] == ["torch.float32"]
    assert sum(a == b for a, b in zip(results[str(merged)]["texts"], ours)) >= len(ours) // 2


def test_export_refuses_an_existing_folder(trained, capsys):
    target = trained["folder"] / "taken"
    target.mkdir()
    assert main(["export", str(trained["run"].path), "--to", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(trained["folder"]), "--to", str(trained["folder"] / "x")]) == 2
