"""`plait export` for a model Llava cannot express (pooled CLIP embedding, prefix/suffix placement, LoRA):
a remote-code folder that plain transformers (+ peft for the adapter) loads and generates with, in a process
where plait cannot be imported, giving the run's own greedy predictions."""

from __future__ import annotations

import json

import pytest
import yaml

from plait.cli import main
from plait.runs.rundir import find_runs
from tests.tiny_llava import generate_fresh, pretrained_experiment, shapes_folder, tiny_clip, tiny_lm


@pytest.fixture(scope="module")
def pooled_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    raw = pretrained_experiment(tiny_clip(), tiny_lm(), quantized=False,
                                **{"train.max_steps": 6, "train.lr": 3e-2})
    raw["model"].update(placement="between", prefix="describe the image", suffix="then answer", save_merged=True)
    raw["model"]["vision"]["feature"] = "pooled"
    raw["name"], raw["output_dir"] = "pooled", str(folder / "runs")
    path = folder / "pooled.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = find_runs([folder / "runs"])
    return folder, run


def test_remote_code_export_reproduces_the_runs_predictions(pooled_run):
    folder, run = pooled_run
    target = folder / "exported"
    assert main(["export", str(run.path), "--to", str(target)]) == 0
    record = json.loads((target / "plait_export.json").read_text())
    assert record["class"] == "PlaitVLMForConditionalGeneration" and record["trust_remote_code"]
    assert record["adapter"] == "adapter" and record["image_tokens"] == 1
    assert record["prompt"] == "describe the image<image>then answer {prompt}"
    merged = run.model / "merged"  # model.save_merged: the run wrote the merged export itself
    assert json.loads((merged / "plait_export.json").read_text())["merged"] is True
    assert not (merged / "adapter").exists()
    predictions = [json.loads(line) for line in (run.predictions / "test.jsonl").read_text().splitlines()]
    manifest = {r["id"]: r for r in map(json.loads, (shapes_folder() / "test.jsonl").read_text().splitlines())}
    images = [shapes_folder() / manifest[p["id"]]["image"] for p in predictions]
    prompts = [record["prompt"].replace("{prompt}", p["prompt"]) for p in predictions]
    max_new = json.loads((run.eval_dir / "test.json").read_text())["generation"]["max_new_tokens"]
    results = generate_fresh([target, merged], images, prompts, max_new)
    ours = [p["prediction"] for p in predictions]
    assert any(ours)
    assert results[str(target)]["texts"] == ours and results[str(target)]["class"] == "PeftModel"
    assert results[str(merged)]["texts"] == ours

