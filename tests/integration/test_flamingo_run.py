"""`plait run` with the flamingo family: trains, saves, reloads to the same logits, generates from images."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from plait.cli import main
from plait.config import load_experiment
from plait.evaluate.generate import generate
from plait.models.family import BuildOptions, get_family
from plait.pipeline import load_run, prepare_data
from plait.runs.rundir import find_runs
from plait.train.seed import seed_everything
from tests.tiny import write_experiment
from tests.tiny_families import FLAMINGO

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flamingo")
    path = write_experiment(folder, "flamingo", model=FLAMINGO, **{"train.lr": 3e-3})
    assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = find_runs([folder / "runs"])
    return path, run


def test_trains_and_writes_the_run(finished):
    path, run = finished
    status = run.status()
    assert status.state == "finished" and status.step == 6
    assert "exact_match" in status.metrics["test"]
    weights = load_file(str(run.model / "model.safetensors"))
    gates = [k for k in weights if k.endswith("alpha_cross_attn")]
    assert len(gates) == 2 and all(float(weights[k].abs().sum()) > 0 for k in gates)  # the gates moved off 0
    exp = load_experiment(path)
    seed_everything(exp.seed)
    fresh = get_family("flamingo").build(exp.model, prepare_data(exp, False).splits["train"], BuildOptions())
    vision = {k: v for k, v in fresh.model.state_dict().items() if k.startswith("vision.")}
    assert vision and all(torch.equal(weights[k], v) for k, v in vision.items())  # the frozen encoder stayed


def test_reload_reproduces_the_runs_predictions(finished):
    path, run = finished
    _, exp, built = load_run(run.path)
    samples = prepare_data(exp, False).splits["test"]
    processor = built.processor
    batch = processor.collate([processor.encode_train(s) for s in samples[:4]])
    assert batch["pixel_values"].shape[:2] == (4, 1)
    assert (batch["input_ids"] == processor.image_token_id).sum(1).tolist() == [1, 1, 1, 1]
    assert int((batch["labels"] == processor.image_token_id).sum()) == 0
    assert int((batch["labels"] == processor.end_of_chunk_id).sum()) == 4
    written = [json.loads(line)["prediction"] for line in (run.predictions / "test.jsonl").read_text().splitlines()]
    status = run.status()
    max_new = json.loads((run.eval_dir / "test.json").read_text())["generation"]["max_new_tokens"]
    assert generate(built.model, processor, samples, max_new, progress=False) == written
    assert status.metrics["test"]["exact_match"] >= 0


def test_chat_session_answers_from_the_attached_image(finished):
    from plait.serve.session import LoadedRun, Session, Settings

    path, run = finished
    _, exp, _ = load_run(run.path)
    sample = prepare_data(exp, False).splits["test"][0]
    written = json.loads((run.predictions / "test.jsonl").read_text().splitlines()[0])
    max_new = json.loads((run.eval_dir / "test.json").read_text())["generation"]["max_new_tokens"]
    session = Session(LoadedRun(run.path), Settings(max_new_tokens=max_new, history=0))
    session.attach(sample.media)
    assert session.answer(sample.prompt) == written["prediction"]  # streamed, through the media context
