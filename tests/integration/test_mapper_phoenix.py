"""experiments/phoenix.yaml mirrors the multimodalhugs-examples baseline and dry-runs on stand-ins."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from mapper_data import TINY_M2M, mixed_dataset

from plait.cli import main
from plait.config import load_experiment

PHOENIX = Path(__file__).parents[2] / "experiments" / "phoenix.yaml"


def test_phoenix_mirrors_the_baseline() -> None:
    exp = load_experiment(PHOENIX)
    m, t, e = exp.model, exp.train, exp.eval
    assert exp.seed == 3435
    assert (m.backbone.pretrained, m.mapper.kind) == ("facebook/m2m100_418M", "linear")
    assert (m.layer_norm, m.dropout) == (True, 0.1)
    assert (m.signal.max_frames, m.signal.reduce_holistic) == (300, True)
    assert (t.lr, t.schedule.warmup_steps, t.label_smoothing, t.grad_accum, t.batch_size) == (1e-5, 500, 0.1, 3, 8)
    assert (t.precision, t.eval_every, t.save_every, t.metric, t.select_best) == ("fp16", 128, 128, "bleu", True)
    assert t.early_stopping is not None and t.early_stopping.patience == 10
    assert (e.num_beams, e.headline) == (5, "bleu") and {"bleu", "chrf", "ter"} <= set(e.metrics)
    assert exp.data.source.kind == "tsv"


def test_phoenix_dry_runs_with_stand_in_data_and_model(tmp_path: Path) -> None:
    files = mixed_dataset(tmp_path / "data")
    backbone = yaml.safe_dump({k: v for k, v in TINY_M2M.items()}, default_flow_style=True).strip()
    overrides = [
        f"data.source.train={files['train']}", f"data.source.validation={files['test']}",
        f"data.source.test={files['test']}", "model.backbone.pretrained=null", f"model.backbone.config={backbone}",
        "model.tokenizer.train={kind: wordlevel}", "train.precision=fp32", "train.num_workers=0",
        f"output_dir={tmp_path / 'runs'}",
    ]
    assert main(["run", str(PHOENIX), "--dry-run", "--no-progress", *sum((["--set", o] for o in overrides), [])]) == 0
    (run,) = (tmp_path / "runs" / "phoenix").iterdir()
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and status["dry_run"] and status["step"] == 3
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["lr"] == 1e-5 and saved["seed"] == 3435 and saved["model"]["new_tokens"] == ["__dgs__"]
    for split in ("validation", "test"):
        result = json.loads((run / "eval" / f"{split}.json").read_text())
        assert result["generation"]["num_beams"] == 5 and "bleu" in result["signatures"]
    tokenizer = json.loads((run / "model" / "tokenizer.json").read_text())
    added = {t["content"] for t in tokenizer["added_tokens"]}
    assert {"__dgs__", "__de__"} <= added
