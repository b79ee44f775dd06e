"""Tiny local stand-ins for pretrained checkpoints (a CLIP vision tower, a causal LM with its tokenizer) and
LLaVA-format JSON data, so (Q)LoRA, staging and export are tested without downloading anything."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from plait.data.builtin.shapes import generate_shapes
from plait.data.cache import cache_root
from plait.data.sources.manifest import read_rows
from plait.models.components.tokenizer import train_tokenizer
from tests.tiny import tiny

LM_CONFIGS = {
    "llama": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 4, "max_position_embeddings": 128},
    "phi3": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 4, "max_position_embeddings": 128, "pad_token_id": 0},
}


def shapes_folder(size: int = 16) -> Path:
    """The tiny built-in shapes data set (as tests.tiny uses it), generated into the cache."""
    source = tiny()["data"]["source"]
    return generate_shapes(source["train_size"], source["validation_size"], source["test_size"], size, 1234)


def cached(name: str):
    """Decorator: build a stand-in checkpoint once per cache folder (keyed by its name and arguments)."""
    def wrap(make):
        def get(**settings: Any) -> Path:
            key = "-".join([name, *(f"{k}={v}" for k, v in sorted(settings.items()))])
            folder = cache_root() / "standins" / key
            if folder.is_dir():
                return folder
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{key}."))
            make(tmp, **settings)
            try:
                tmp.rename(folder)
            except OSError:  # another test process built it meanwhile
                shutil.rmtree(tmp)
            return folder
        return get
    return wrap


@cached("clip")
def tiny_clip(folder: Path, image_size: int = 16, seed: int = 0) -> None:
    """A random CLIP vision tower with projection, and its image processor, saved like a checkpoint."""
    torch.manual_seed(seed)
    config = CLIPVisionConfig(image_size=image_size, patch_size=8, hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=2, projection_dim=24)
    CLIPVisionModelWithProjection(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
                       ).save_pretrained(folder)


@cached("lm")
def tiny_lm(folder: Path, model_type: str = "llama", seed: int = 0, pretrain_steps: int = 30) -> None:
    """A small causal LM pretrained briefly on the shapes texts, with a word-level tokenizer of that vocabulary
    (no <image> token), saved like a checkpoint: fine-tuning it then yields words, not noise."""
    torch.manual_seed(seed)
    rows = read_rows(shapes_folder() / "train.jsonl")
    texts = [t for r in rows for t in (f"{r['question']} {r['answer']}", r["caption"], "describe the image.")]
    tokenizer = train_tokenizer(texts, "wordlevel", 200, True, [])
    values = {"vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id,
              "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
              **{k: v for k, v in LM_CONFIGS[model_type].items() if k != "pad_token_id"}}
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **values))
    ids = [[tokenizer.bos_token_id] + tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
           for t in texts]
    width = max(map(len, ids))
    batch = torch.tensor([x + [tokenizer.pad_token_id] * (width - len(x)) for x in ids])
    labels = batch.masked_fill(batch == tokenizer.pad_token_id, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(pretrain_steps):
        model(input_ids=batch, attention_mask=(labels != -100).long(), labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def llava_json(folder: Path, split: str = "train", limit: int = 24) -> Path:
    """The shapes split as a LLaVA-Instruct-style JSON file (two turns per image), images by absolute path."""
    source = shapes_folder()
    rows = read_rows(source / f"{split}.jsonl")[:limit]
    items = [{"id": r["id"], "image": str((source / r["image"]).resolve()), "conversations": [
        {"from": "human", "value": f"<image>\n{r['question']}"}, {"from": "gpt", "value": r["answer"].capitalize() + "."},
        {"from": "human", "value": "Describe the image."}, {"from": "gpt", "value": r["caption"].capitalize() + "."},
    ]} for r in rows]
    path = folder / f"{split}.json"
    path.write_text(json.dumps(items))
    return path


def pretrained_experiment(clip: Path, lm: Path, quantized: bool = True, **updates: Any) -> dict[str, Any]:
    """tests.tiny's experiment on the stand-in checkpoints: frozen CLIP, LoRA on the LM (4-bit when `quantized`)."""
    raw = tiny(**updates)
    model = raw["model"]
    model["vision"] = {"pretrained": str(clip), "feature": model["vision"]["feature"],
                       "layer": model["vision"]["layer"], "freeze": True}
    model["language"] = {"pretrained": str(lm), "lora": {"r": 4, "alpha": 8, "dropout": 0.0,
                                                         "target_modules": ["q_proj", "v_proj"]}}
    if quantized:
        model["language"]["quantization"] = {"quant_type": "nf4", "double_quant": True, "compute_dtype": "float32"}
    model["tokenizer"] = {}
    return raw


FRESH = r'''
import importlib.abc, json, sys

class NoPlait(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "plait":
            raise ImportError("plait is not importable in this process")

sys.meta_path.insert(0, NoPlait())
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

job = json.loads(sys.argv[1])
images = [Image.open(p).convert("RGB") for p in job["images"]]
results = {}
for folder in job["folders"]:
    info = json.load(open(f"{folder}/plait_export.json"))
    remote = info["trust_remote_code"]
    model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=remote).eval()
    if info["adapter"]:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, f"{folder}/{info['adapter']}").eval()
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=remote)
    processor.tokenizer.padding_side = "left"
    inputs = processor(images=images, text=job["prompts"], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=job["max_new_tokens"], do_sample=False, num_beams=1)
    texts = processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    results[folder] = {"texts": [t.strip() for t in texts], "class": type(model).__name__,
                       "weights": sorted({str(p.dtype) for p in model.parameters()})}
print(json.dumps({"results": results, "plait_loaded": any(m.split(".")[0] == "plait" for m in sys.modules)}))
'''


def generate_fresh(folders: list[Path], images: list[Path], prompts: list[str], max_new_tokens: int) -> dict[str, Any]:
    """Greedy generation from exported folders in a new Python process where plait cannot be imported."""
    import subprocess
    import sys

    job = {"folders": [str(f) for f in folders], "images": [str(i) for i in images], "prompts": prompts,
           "max_new_tokens": max_new_tokens}
    done = subprocess.run([sys.executable, "-c", FRESH, json.dumps(job)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["plait_loaded"] is False
    return out["results"]
