"""The max-over-N pick, mean +- std and both averages, on hand-made run directories."""

from __future__ import annotations

import csv
import io
import statistics

import pytest

from plait.glue.table import Row, collect_row, csv_text, latex, markdown
from plait.runs import atomic

TASKS = ["cola", "mnli", "mrpc", "stsb", "wnli"]
RUNS = {  # task -> per run {split: {metric: value}}
    "cola": [{"validation": {"matthews_correlation": 10.0}}, {"validation": {"matthews_correlation": 40.0}},
             {"validation": {"matthews_correlation": 25.0}}],
    # MNLI picks by mismatched accuracy (the test split here), not by matched
    "mnli": [{"validation": {"accuracy": 80.0}, "test": {"accuracy": 70.0}},
             {"validation": {"accuracy": 75.0}, "test": {"accuracy": 72.0}}],
    # MRPC picks by accuracy, its last reporting metric, even though run 1 has the higher F1
    "mrpc": [{"validation": {"f1": 90.0, "accuracy": 80.0}}, {"validation": {"f1": 85.0, "accuracy": 84.0}}],
    "stsb": [{"validation": {"pearson": 60.0, "spearmanr": 50.0}}, {"validation": {"pearson": 55.0, "spearmanr": 58.0}}],
    "wnli": [{"validation": {"accuracy": 56.0}}, {"validation": {"accuracy": 40.0}}],
}


@pytest.fixture()
def row_folder(tmp_path):
    for task, runs in RUNS.items():
        for k, splits in enumerate(runs, 1):
            run = tmp_path / f"{task}-run{k}" / "20260101-000000-abcd"
            atomic.write_json(run / "status.json", {"state": "finished", "tags": {"glue_task": task}})
            for split, metrics in splits.items():
                atomic.write_json(run / "eval" / f"{split}.json", {"metrics": metrics})
    failed = tmp_path / "cola-run4" / "20260101-000000-dead"  # unfinished runs never count
    atomic.write_json(failed / "status.json", {"state": "failed", "tags": {"glue_task": "cola"}})
    atomic.write_json(failed / "eval" / "validation.json", {"metrics": {"matthews_correlation": 99.0}})
    return tmp_path


def test_max_picks_the_run_by_the_last_reporting_metric(row_folder):
    cells = collect_row(row_folder, TASKS)
    assert cells["cola"].picked == {"mcc": 40.0}
    assert cells["mnli"].picked == {"m": 75.0, "mm": 72.0}
    assert cells["mrpc"].picked == {"f1": 85.0, "acc": 84.0}
    assert cells["stsb"].picked == {"pearson": 55.0, "spearman": 58.0}
    assert cells["cola"].stats("mcc") == (25.0, statistics.stdev([10.0, 40.0, 25.0]))


def test_averages_with_and_without_wnli(row_folder):
    row = Row("m", collect_row(row_folder, TASKS), {"perplexity": 12.5, "eval_loss": 2.526})
    scores = {"cola": 40.0, "mnli": (75 + 72) / 2, "mrpc": (85 + 84) / 2, "stsb": (55 + 58) / 2, "wnli": 56.0}
    assert row.average(with_wnli=True) == pytest.approx(statistics.fmean(scores.values()))
    assert row.average(with_wnli=False) == pytest.approx(statistics.fmean(v for k, v in scores.items() if k != "wnli"))


def test_markdown_csv_and_latex_carry_the_rule_and_the_numbers(row_folder):
    row = Row("tiny-bert", collect_row(row_folder, TASKS), {"perplexity": 12.5, "eval_loss": 2.526})
    runs = {"cola": 3, "mnli": 2, "mrpc": 2, "stsb": 2, "wnli": 2}
    text = markdown([row], TASKS, runs)
    assert "| tiny-bert " in text and "40.0 (25.0±15.0)" in text and "85.0/84.0" in text
    assert "max over N fine-tuning runs (3 runs for CoLA; 2 runs for MNLI, MRPC, STS-B, WNLI)" in text
    parsed = list(csv.DictReader(io.StringIO(csv_text([row], TASKS))))[0]
    assert float(parsed["mrpc_acc"]) == 84.0 and float(parsed["cola_mcc_mean"]) == 25.0
    assert parsed["cola_runs"] == "3" and float(parsed["perplexity"]) == 12.5
    tex = latex([row], TASKS, runs)
    assert r"\caption{GLUE validation scores" in tex and r"$\pm$" in tex and "average\\_bert" in tex


def test_a_sparse_pretrained_run_shows_its_measured_sparsity(row_folder, tmp_path):
    from plait.glue.table import pretrained_scores

    pretrained = tmp_path / "bert-sparse"
    atomic.write_json(pretrained / "status.json", {"state": "finished", "sparsity": {"overall": 0.7958}})
    atomic.write_json(pretrained / "eval" / "validation.json", {"metrics": {"perplexity": 54.4, "loss": 3.996}})
    scores = pretrained_scores(str(pretrained), is_run=True)
    assert scores == {"sparsity": 0.7958, "perplexity": 54.4, "eval_loss": 3.996}
    row = Row("sparse_80%", collect_row(row_folder, TASKS), scores)
    text = markdown([row], TASKS, {t: 2 for t in TASKS})
    assert "| sparsity" in text.splitlines()[0] and "79.58%" in text
    assert float(list(csv.DictReader(io.StringIO(csv_text([row], TASKS))))[0]["sparsity"]) == 0.7958
