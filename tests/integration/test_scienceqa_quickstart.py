"""The ScienceQA quickstart end to end through the CLI on a tiny budget: multiple-choice evaluation files, the
resolved dropout in the run, LaVIN's table from `plait summarize`, chat with and without an image."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from plait.cli import main
from plait.data.builtin.scienceqa import generate_scienceqa
from plait.runs.rundir import find_runs

QUICKSTART = Path(__file__).resolve().parents[2] / "experiments" / "scienceqa-quickstart.yaml"
SMALL = ["data.source.builtin={train_size: 48, validation_size: 4, test_size: 24}", "train.max_steps=12",
         "train.schedule.warmup_steps=2", "train.log_every=2", "eval.batch_size=24"]
CATEGORIES = ["NAT", "SOC", "LAN", "TXT", "IMG", "NO", "G1-6", "G7-12", "Average"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished runs that differ in their adapter dropout (a constant, and a falling schedule)."""
    out = tmp_path_factory.mktemp("sqa") / "runs"
    for dropout in ("0.1", "0.2:0.1:0.5"):
        overrides = SMALL + [f"output_dir={out}", f"model.adapter.dropout={dropout}"]
        assert main(["run", str(QUICKSTART), "--no-progress", *[a for o in overrides for a in ("--set", o)]]) == 0
    found = sorted(find_runs([out]), key=lambda r: r.path.name)
    assert len(found) == 2
    return out, found


def test_eval_files_hold_categories_unparsable_and_question_ids(runs):
    _, (run, _) = runs
    record = json.loads((run.eval_dir / "test.json").read_text())
    lines = [json.loads(line) for line in (run.predictions / "test.jsonl").read_text().splitlines()]
    assert len(lines) == 24 and all(set(x) >= {"id", "prediction", "choice", "answer"} for x in lines)
    problems = json.loads((generate_scienceqa(48, 4, 24, 32, 1234) / "problems.json").read_text())
    assert all(problems[x["id"]]["answer"] == x["answer"] for x in lines)  # ids are ScienceQA question ids
    assert list(record["categories"]) == CATEGORIES
    unparsable = sum(x["choice"] is None for x in lines)
    correct = sum(x["choice"] == x["answer"] for x in lines)
    assert record["unparsable"] == unparsable == record["metrics"]["unparsable"]
    assert record["metrics"]["accuracy"] == pytest.approx(100 * correct / 24)
    assert record["categories"]["Average"] == {"correct": correct, "total": 24,
                                               "accuracy": round(100 * correct / 24, 4)}
    images = sum(1 for x in lines if problems[x["id"]]["image"])
    assert record["categories"]["IMG"]["total"] == images > 0
    assert record["categories"]["NAT"]["total"] + record["categories"]["SOC"]["total"] + \
        record["categories"]["LAN"]["total"] == 24


def test_resolved_dropout_is_in_config_and_metrics(runs):
    _, (constant, falling) = runs
    config = yaml.safe_load(falling.config.read_text())
    assert config["model"]["layer_dropout"] == {"language": [0.2, 0.1, 0.1, 0.1], "vision": [0.2, 0.1, 0.1, 0.1]}
    built = [json.loads(x) for x in falling.metrics.read_text().splitlines() if '"built"' in x]
    assert built[0]["adapter_dropout"] == config["model"]["layer_dropout"]
    assert yaml.safe_load(constant.config.read_text())["model"]["layer_dropout"]["language"] == [0.1] * 4


def test_summarize_writes_lavins_table_and_graphs(runs, tmp_path):
    out, _ = runs
    assert main(["summarize", str(out), "--out", str(tmp_path)]) == 0
    table = (tmp_path / "categories.md").read_text().splitlines()
    assert [c.strip() for c in table[0].strip("|").split("|")] == ["Method", *CATEGORIES, "runs"]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert [r[0] for r in rows] == ["adapter.dropout=0.1", "dropout.limit=0.1, dropout.prob=0.2, dropout.var=0.5"]
    for column in range(1, len(CATEGORIES) + 1):  # the best of each column is bold (ties: the first)
        cells = [r[column] for r in rows]
        values = [float(c.strip("*")) for c in cells]
        assert sum(c.startswith("**") for c in cells) == 1
        assert values[[c.startswith("**") for c in cells].index(True)] == max(values)
    for name in ("category_bars.png", "loss_curves.png", "lr_schedule.png", "categories.csv"):
        assert (tmp_path / name).stat().st_size > 0


def test_likelihood_scoring_never_leaves_an_answer_unparsable(runs):
    from plait.evaluate.multiple_choice import evaluate_multiple_choice
    from plait.pipeline import load_run, prepare_data

    _, (run, _) = runs
    _, exp, built = load_run(run.path)
    samples = prepare_data(exp, dry_run=False).splits["test"][:8]
    cfg = exp.eval.model_copy(update={"multiple_choice": exp.eval.multiple_choice.model_copy(
        update={"method": "likelihood"})})
    result, predictions = evaluate_multiple_choice(built, samples, cfg, 8, progress=False)
    assert result["unparsable"] == 0 and len(predictions) == 8
    assert all(p.startswith("The answer is ") for p in predictions)
    chosen = [x["choice"] for x in result["per_sample"]]
    assert all(0 <= c < len(s.meta["choices"]) for c, s in zip(chosen, samples))


def test_chat_with_and_without_an_image(runs):
    from plait.serve.chat import Chat
    from plait.serve.session import LoadedRun, Session, Settings

    _, (run, _) = runs
    loaded = LoadedRun(run.path)
    session = Session(loaded, Settings(max_new_tokens=6, history=0))
    processor = loaded.processor
    question = "Question: What color is the shape?\nContext: N/A\nOptions: (A) blue (B) green\nResponse:"
    text_only = processor.encode_prompt(session.sample(question))["input_ids"]
    assert processor.image_id not in text_only
    image = next((generate_scienceqa(48, 4, 24, 32, 1234) / "images" / "test").glob("*/image.png"))
    lines = iter([question, f"/image {image}", question, "/quit"])
    out = io.StringIO()
    Chat(session, lambda: None, read=lambda _: next(lines), out=out).loop()
    with_image = processor.encode_prompt(session.sample(question))["input_ids"]
    assert with_image.count(processor.image_id) == 2 and with_image[0] == processor.modality_id
    shown = out.getvalue()
    assert shown.count("model> ") == 2 and f"attached {image}" in shown and "error" not in shown


def test_serve_answers_with_and_without_an_image(runs):
    from plait.serve.app import answer_all, attach, build_app, new_sessions
    from plait.serve.session import LoadedRun, Settings

    _, (run, _) = runs
    loaded = [LoadedRun(run.path)]
    assert build_app(loaded, lambda: None) is not None
    sessions = new_sessions(loaded)
    question = "Question: What color is the shape?\nContext: N/A\nOptions: (A) blue (B) green\nResponse:"
    settings = Settings(max_new_tokens=4, history=0)
    chats = [[]]
    for _ in answer_all(sessions, question, settings, chats):
        pass
    image = next((generate_scienceqa(48, 4, 24, 32, 1234) / "images" / "test").glob("*/image.png"))
    assert attach(sessions, str(image)) is None and sessions[0].media == image
    for _ in answer_all(sessions, question, settings, chats):
        pass
    assert [m["role"] for m in chats[0]] == ["user", "assistant"] * 2 and all(m["content"] for m in chats[0])
    assert attach(sessions, str(run.config)).startswith("refused config.yaml")  # not an image
