"""train.sparsity and train.distill with the text family (transformers models used as they are): masked LM
and causal LM on the built-in corpus, teachers given as a plait run and as a plain transformers folder."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

from plait.cli import main
from plait.runs import atomic
from plait.runs.rundir import RunDir, find_runs

QUICKSTART = Path(__file__).parents[2] / "experiments" / "text-quickstart.yaml"
LLAMA = {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
         "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 64}


def run(folder: Path, name: str, causal: bool = False, **train) -> RunDir:
    exp = yaml.safe_load(QUICKSTART.read_text())
    exp = copy.deepcopy(exp) | {"name": name, "output_dir": str(folder / "runs")}
    exp["data"]["source"]["sentences"] = 2000
    exp["model"]["config"].update(hidden_size=32, intermediate_size=64, num_hidden_layers=1)
    if causal:
        exp["model"] = {**{k: v for k, v in exp["model"].items() if k != "masking"}, "task": "causal_lm",
                        "config": LLAMA}
    exp["train"] = {**exp["train"], "max_steps": 6, "log_every": 1, "schedule": {"kind": "constant"}, **train}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(exp))
    assert main(["run", str(path), "--no-progress"]) == 0
    (found,) = find_runs([folder / "runs" / name])
    return found


@pytest.mark.slow
@pytest.mark.parametrize("causal", [False, True], ids=["masked_lm", "causal_lm"])
def test_text_family_trains_sparse_and_distilled(tmp_path, causal):
    teacher = run(tmp_path, "teacher", causal)
    plain_folder = tmp_path / "hf-teacher"  # the same teacher as a plain transformers folder, no plait record
    shutil.copytree(teacher.model, plain_folder)
    (plain_folder / "plait_model.json").unlink()
    sparsity = {"target": 0.75, "method": "rigl", "update_every": 2, "stop_at": 1.0}
    for name, spec in (("from-run", str(teacher.path)), ("from-folder", str(plain_folder))):
        student = run(tmp_path, name, causal, sparsity=sparsity,
                      distill={"teacher": spec, "temperature": 2.0, "kd_factor": 0.5})
        measured = student.status().sparsity
        assert not any("embed" in n for n in measured["modules"])  # embeddings stay dense by default
        covered = measured["covered_parameters"]
        assert measured["covered"] == pytest.approx(1 - round(0.25 * covered) / covered, abs=1e-6)
        record = json.loads((student.eval_dir / "validation.json").read_text())
        assert record["sparsity"]["overall"] < measured["covered"] and "perplexity" in record["metrics"]
        events = [r for r in atomic.read_jsonl(student.metrics) if r.get("event") == "sparsity"]
        assert [e["step"] for e in events] == [0, 2, 4]
