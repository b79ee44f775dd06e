"""plait summarize on hand-written run directories: the numbers in the tables are the run directories' numbers,
unfinished runs are flagged and kept out of every statistic, the output does not depend on input order, and the
plots are real images."""

from __future__ import annotations

import io
import json
import statistics
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image, ImageStat

from plait.cli import main
from plait.errors import UserError
from plait.report.summarize import summarize

LRS = {1e-3: [40.0, 46.0, 43.0], 1e-2: [70.0, 64.0, 61.0]}


def write_run(root: Path, name: str, lr: float, warmup: int, seed: int, state: str, score: float | None,
              tags: dict | None = None) -> Path:
    """A run directory as plait run writes it: config.yaml, status.json, metrics.jsonl, eval/*.json."""
    path = root / "exp" / name
    (path / "eval").mkdir(parents=True)
    config = {"name": "exp", "seed": seed, "output_dir": str(root), "tags": tags or {},
              "train": {"lr": lr, "max_steps": 20, "schedule": {"kind": "linear", "warmup_steps": warmup}},
              "eval": {"headline": "exact_match", "splits": ["validation", "test"]}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    step = 20 if state == "finished" else 10
    status = {"state": state, "step": step, "epoch": step / 10, "tags": tags or {}}
    (path / "status.json").write_text(json.dumps(status))
    events = [{"step": s, "split": "train", "loss": 3.0 / s + seed * 0.01, "learning_rate": lr * min(1, s / 5)}
              for s in range(1, step + 1)]
    events += [{"step": s, "split": "validation", "loss": 3.5 / s, "exact_match": s * 2.0} for s in (5, 10, 15, 20)
               if s <= step]
    (path / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    if score is not None:
        for split, value in (("validation", score), ("test", score - 5.0)):
            (path / "eval" / f"{split}.json").write_text(json.dumps(
                {"split": split, "metrics": {"exact_match": value, "bleu": value / 2}}))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two configurations x 3 seeds, plus a failed and a pruned run of the first configuration."""
    root = tmp_path_factory.mktemp("sweep") / "runs"
    tags = {"sweep": "s1"}
    for lr, scores in LRS.items():
        for seed, score in enumerate(scores):
            write_run(root, f"lr{lr}-s{seed}", lr, 10, seed, "finished", score, tags | {"trial": f"{lr}{seed}"})
    write_run(root, "failed", 1e-3, 10, 3, "failed", None, tags | {"trial": "f"})
    write_run(root, "pruned", 1e-3, 10, 4, "pruned", 99.0, tags | {"trial": "p"})  # a stray score must not count
    return root


@pytest.fixture(scope="module")
def out(runs):
    """`plait summarize RUNS` writes into RUNS/summary."""
    assert main(["summarize", str(runs)]) == 0
    return runs / "summary"


def png_ok(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 10_000, path
    image = Image.open(io.BytesIO(data)).convert("L")
    assert image.size[0] > 300 and image.size[1] > 200
    assert ImageStat.Stat(image).stddev[0] > 5.0, f"{path} is a flat image"


def test_summary_numbers_are_the_run_directories_numbers(out):
    table = pd.read_csv(out / "summary.csv")
    # warmup is equal everywhere, seeds are averaged over, output_dir and tags only name things
    assert [c for c in table.columns if c.startswith("train.")] == ["train.lr"]
    assert table["train.lr"].tolist() == [1e-3, 1e-2]
    for _, row in table.iterrows():
        scores = LRS[row["train.lr"]]
        assert row["validation exact_match n"] == 3
        assert row["validation exact_match mean"] == pytest.approx(statistics.fmean(scores))
        assert row["validation exact_match std"] == pytest.approx(statistics.stdev(scores))
        assert row["validation exact_match max"] == pytest.approx(max(scores))
        assert row["test exact_match mean"] == pytest.approx(statistics.fmean(scores) - 5.0)
    first, second = table.iloc[0], table.iloc[1]
    assert (first["runs"], first["finished"], first["step min"], first["step max"]) == (5, 3, 10, 20)
    assert first["flag"] == "1 failed, 1 pruned: left out of the statistics"
    assert pd.isna(second["flag"]) and second["best"] == "*" and pd.isna(first["best"])
    per_run = pd.read_csv(out / "runs.csv")
    assert len(per_run) == 8 and per_run["best"].fillna("").tolist().count("*") == 1
    best_run = per_run[per_run["best"] == "*"].iloc[0]
    assert best_run["validation exact_match"] == 70.0 and best_run["seed"] == 0
    unfinished = per_run[per_run["state"] != "finished"]
    assert sorted(unfinished["state"]) == ["failed", "pruned"] and unfinished["validation exact_match"].isna().all()
    assert (unfinished["step"] == 10).all() and unfinished["flag"].str.contains("left out of the statistics").all()


def test_markdown_latex_and_plots(out):
    markdown = (out / "summary.md").read_text()
    assert "| validation exact_match (mean ± std)" in markdown
    mean, std = statistics.fmean(LRS[1e-2]), statistics.stdev(LRS[1e-2])
    assert f"{mean:.2f} ± {std:.2f}" in markdown and "3/5" in markdown
    latex = (out / "summary.tex").read_text()
    assert latex.startswith("\\begin{tabular}") and "\\toprule" in latex and "exact\\_match" in latex
    assert f"{mean:.2f} $\\pm$ {std:.2f}" in latex
    for name in ("loss_curves", "lr_schedule", "metric_bars", "metric_vs_params", "importance"):
        png_ok(out / f"{name}.png")
    importance = pd.read_csv(out / "importance.csv")
    assert importance["parameter"].tolist() == ["train.lr"] and importance["importance"].sum() == pytest.approx(1.0)


def test_output_does_not_depend_on_input_order(runs, out, tmp_path):
    summarize(sorted((runs / "exp").iterdir(), reverse=True), tmp_path / "reversed")
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in (tmp_path / "reversed").iterdir()) and len(written) == 12
    for name in written:
        assert (out / name).read_bytes() == (tmp_path / "reversed" / name).read_bytes(), name


def test_metric_and_split_choices_and_errors(runs, tmp_path):
    summary = summarize([runs], tmp_path / "out", metrics=["bleu"], split="test")
    assert summary.rank.label == "test bleu" and [c.label for c in summary.columns] == ["validation bleu", "test bleu"]
    with pytest.raises(UserError, match="--metric: rouge not in any run's eval"):
        summarize([runs], tmp_path / "x", metrics=["rouge"])
    with pytest.raises(UserError, match="no run directories"):
        summarize([tmp_path / "out"], tmp_path / "y")
    dry = write_run(tmp_path / "dry", "d", 1e-3, 0, 0, "finished", 50.0)
    (dry / "status.json").write_text(json.dumps({"state": "finished", "dry_run": True}))
    with pytest.raises(UserError, match=r"but dry runs \(add --dry-runs\)"):
        summarize([tmp_path / "dry"], tmp_path / "y")
    assert main(["summarize", str(tmp_path / "missing")]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_loss_curves_of_a_staged_run_use_the_global_step() -> None:
    from types import SimpleNamespace

    from plait.report.plots import _series

    events = [{"split": "train", "step": 1, "global_step": 1, "loss": 3.0, "stage": "a"},
              {"split": "train", "step": 2, "global_step": 2, "loss": 2.0, "stage": "a"},
              {"split": "train", "step": 1, "global_step": 3, "loss": 1.5, "stage": "b"},
              {"split": "train", "step": 4, "loss": 1.0}]
    assert _series(SimpleNamespace(events=events), "train", "loss") == ([1, 2, 3, 4], [3.0, 2.0, 1.5, 1.0])
