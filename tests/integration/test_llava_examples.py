"""The Phi-3.5 LLaVA-style examples validate, dry-run end to end with tiny local stand-ins for CLIP and
Phi-3.5 (`--set` overrides, nothing downloaded), and train the seed's number of parameters at full size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoConfig, AutoModelForCausalLM

from plait.cli import main
from plait.config import load_experiment
from plait.models.components.peft import add_lora
from plait.models.components.projector import MLPProjector
from plait.runs.rundir import find_runs
from tests.tiny_llava import llava_json, tiny_clip, tiny_lm

EXAMPLES = Path(__file__).resolve().parents[2] / "experiments"
ONE, TWO = EXAMPLES / "llava-phi35-qlora.yaml", EXAMPLES / "llava-phi35-qlora-2stage.yaml"


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phi35")
    return [f"model.vision.pretrained={tiny_clip()}",
            f"model.language.pretrained={tiny_lm(model_type='phi3')}",
            f"data.source.train={llava_json(folder)}", "data.source.image_root=null",
            "train.precision=fp32", "model.language.quantization.compute_dtype=float32",
            "eval.max_new_tokens=4", f"output_dir={folder / 'runs'}"], folder


def test_examples_validate(stand_ins, capsys):
    overrides, _ = stand_ins
    assert main(["validate", "--quiet", str(ONE), str(TWO), *(a for o in overrides for a in ("--set", o))]) == 0
    assert main(["validate", "--quiet", str(ONE)]) == 2  # as shipped: only the user's data is missing here
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all("does not exist" in line and "data.source." in line for line in lines)
    exp = load_experiment(TWO)
    assert [(s.name, s.trainable, s.train.max_steps, s.train.lr) for s in exp.stages] == [
        ("projector", ["projector"], 2000, 1e-3), ("joint", ["projector", "lora"], 6000, 5e-5)]
    assert exp.stages[1].train.gradient_checkpointing and exp.stages[1].train.batch_size == 2


@pytest.mark.parametrize("example", [ONE, TWO], ids=["one-stage", "two-stage"])
def test_examples_dry_run_with_tiny_stand_ins(stand_ins, example):
    overrides, folder = stand_ins
    args = ["run", str(example), "--dry-run", "--no-progress"]
    assert main(args + [a for o in overrides for a in ("--set", o)]) == 0
    (run,) = [r for r in find_runs([folder / "runs"]) if r.path.parent.name == example.stem]
    status = run.status()
    assert status.state == "finished" and status.dry_run
    config = yaml.safe_load(run.config.read_text())
    assert config["data"]["normalize_targets"]["stopwords"] and config["model"]["language"]["quantization"]
    assert (run.model / "adapter" / "adapter_model.safetensors").is_file()
    assert (run.model / "projector.safetensors").is_file() and not (run.model / "model.safetensors").exists()
    events = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    if example == TWO:
        assert [(s.name, s.steps) for s in status.stages] == [("projector", 3), ("joint", 3)]
        counts = [e["trainable_parameters"] for e in events if e.get("event") == "stage"]
        assert len(counts) == 2 and counts[0] < counts[1]
    else:
        assert status.step == 3
    predictions = [json.loads(line) for line in (run.predictions / "validation.jsonl").read_text().splitlines()]
    # only training targets are cleaned: references keep their capitals and full stops
    assert predictions and all(p["reference"][0].isupper() and p["reference"].endswith(".") for p in predictions)


def test_phi35_example_trains_the_seeds_parameter_count():
    exp = load_experiment(ONE)
    lora = exp.model.language.lora
    phi35 = AutoConfig.for_model("phi3", hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                                 num_attention_heads=32, num_key_value_heads=32, vocab_size=32064)
    with torch.device("meta"):
        language = AutoModelForCausalLM.from_config(phi35)
        adapted = add_lora(language, lora.r, lora.alpha, lora.dropout, lora.target_modules, "x", "CAUSAL_LM")
        projector = MLPProjector(512, 3072, exp.model.projector.layers, exp.model.projector.activation)
    trainable = sum(p.numel() for n, p in adapted.named_parameters() if "lora_" in n)
    trainable += sum(p.numel() for p in projector.parameters())
    # the seed logged 111,680,512: its projector also normalised the 512-d input (LayerNorm: 1,024 parameters)
    assert trainable == 111_680_512 - 1_024
