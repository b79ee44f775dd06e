"""The text example files (Numenta's BERT-base MLM, BabyLM's OPT-125M and RoBERTa-base, the GLUE suites)
validate, and dry-run end to end with tiny stand-ins (`--set` overrides, nothing downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.cli import main
from plait.commands.glue import load_suite
from plait.data.builtin.glue_tasks import generate_glue
from plait.glue.jobs import plan_jobs, pretrained
from plait.models.text.build import build_tokenizer
from plait.models.text.config import TextModelConfig
from plait.runs.rundir import find_runs
from tests.text_tiny import BERT, GPT2, corpus, text_model

EXAMPLES = Path(__file__).resolve().parents[2] / "experiments"
TINY_CONFIGS = {
    "bert-base-mlm": BERT,
    "babylm-opt125m": {"model_type": "opt", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "ffn_dim": 32, "max_position_embeddings": 160, "word_embed_proj_dim": 16},
    "babylm-roberta-base": {**BERT, "model_type": "roberta", "max_position_embeddings": 160, "type_vocab_size": 1},
}


def test_examples_validate(capsys):
    assert main(["validate", "--quiet", str(EXAMPLES / "text-quickstart.yaml")]) == 0
    files = [str(EXAMPLES / f"{name}.yaml") for name in TINY_CONFIGS]
    assert main(["validate", "--quiet", *files]) == 2  # as shipped: only the user's corpus files are missing here
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all("matches no file" in line and "data.source." in line for line in lines)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text-examples")
    lines = "\n".join(s.target for s in corpus(60)) + "\n"
    for split in ("train", "dev", "test"):
        (folder / f"corpus.{split}").write_text(lines)
    tokenizer = build_tokenizer(TextModelConfig.model_validate(text_model("masked_lm")), corpus(60))
    tokenizer.save_pretrained(folder / "tokenizer")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TINY_CONFIGS))
def test_examples_dry_run_with_tiny_stand_ins(stand_ins, name):
    folder = stand_ins
    overrides = [f"model.config={json.dumps(TINY_CONFIGS[name])}", "train.precision=fp32",
                 f"data.source.train=[{folder}/corpus.train]", f"data.source.validation=[{folder}/corpus.dev]",
                 f"output_dir={folder / 'runs'}", "model.max_length=48"]
    if name == "bert-base-mlm":
        overrides.append(f"model.tokenizer.pretrained={folder / 'tokenizer'}")
    else:
        overrides += [f"data.source.test=[{folder}/corpus.test]", "model.tokenizer.train.vocab_size=300"]
    args = ["run", str(EXAMPLES / f"{name}.yaml"), "--dry-run", "--no-progress"]
    assert main(args + [a for o in overrides for a in ("--set", o)]) == 0
    (run,) = [r for r in find_runs([folder / "runs"]) if r.path.parent.name == name]
    assert run.status().state == "finished" and run.status().dry_run
    record = run.eval_result("validation")
    coverage = record["coverage"]
    assert record["metrics"]["perplexity"] > 1
    assert coverage["evaluated"] == coverage["total"] and coverage["fraction"] == 1
    assert coverage["truncated"] >= 0


def test_numenta_suite_plans_the_study_s_runs_on_a_hub_layout_folder(tmp_path):
    glue = generate_glue(12, 10, seed=3)
    suite = load_suite(str(EXAMPLES / "glue-numenta.yaml"), [f"glue_dir={glue}", f"output_dir={tmp_path}"])
    (tmp_path / "checkpoint").mkdir()  # plan_jobs reads no weights; --from only checks that the folder exists
    (tmp_path / "checkpoint" / "config.json").write_text("{}")
    jobs = plan_jobs(suite, [pretrained(f"ckpt={tmp_path / 'checkpoint'}")])
    counts = {t: sum(j.task == t for j in jobs) for t in suite.tasks}
    assert counts == {"cola": 10, "mnli": 1, "mrpc": 3, "qnli": 1, "qqp": 1, "rte": 10, "sst2": 1, "stsb": 3,
                      "wnli": 10}
    assert load_suite(str(EXAMPLES / "glue-quickstart.yaml"), []).runs("cola") == 3
