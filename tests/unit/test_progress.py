"""What training prints: a live line with loss, lr and ETA, a line per evaluation, never raw log dicts."""

from __future__ import annotations

import json

from rich.console import Console
from transformers import TrainerControl, TrainerState, TrainingArguments

from plait.cli import main
from plait.runs.rundir import find_runs
from plait.train.progress import TrainingProgress, warmup_note
from tests.tiny import write_experiment


def drive(live: bool) -> str:
    """Feed the callback a 10-step run with logs at 2 and 10 and a validation at 5; return what it printed."""
    out = Console(record=True, width=200, force_terminal=live, color_system=None)
    last: list[tuple[int, dict[str, float]]] = []
    shown = TrainingProgress(live, lambda: last[-1] if last else None, stage="align", out=out)
    args, control = TrainingArguments(output_dir="unused", report_to="none"), TrainerControl()
    state = TrainerState(max_steps=10)
    shown.on_train_begin(args, state, control)
    for step in range(1, 11):
        state.global_step, state.epoch = step, step / 10
        if step in (2, 10):
            shown.on_log(args, state, control, logs={"loss": 1.0 / step, "learning_rate": 1e-3, "grad_norm": 2.0})
        if step == 5:
            last.append((5, {"loss": 0.25, "exact_match": 98.5}))
        shown.on_step_end(args, state, control)
    shown.on_train_end(args, state, control)
    return out.export_text()


def test_a_quiet_run_prints_one_line_per_evaluation_and_a_summary() -> None:
    text = drive(live=False)
    assert text.splitlines() == ["validation align step 5/10: loss 0.25, exact_match 98.50",
                                 "trained align: 10 steps, epoch 1.00, last loss 0.1"]


def test_the_live_line_shows_loss_learning_rate_and_eta() -> None:
    text = drive(live=True)
    assert "train align" in text and "10/10" in text and "loss 0.1  lr 1.00e-03" in text and "eta" in text
    assert "validation align step 5/10: loss 0.25, exact_match 98.50" in text
    assert "grad_norm" not in text and "{" not in text


def test_a_warm_up_is_measured_against_the_steps_epochs_give() -> None:
    assert warmup_note(5, 6) is None
    assert "train.schedule.warmup_steps (6) is not shorter than the run (6 steps from train.epochs)" in warmup_note(6, 6)


def test_training_output_has_no_raw_log_dicts_and_warns_of_a_long_warm_up(tmp_path, capfd) -> None:
    # 48 samples in batches of 8: 6 steps from train.epochs, fewer than the 10 warm-up steps
    path = write_experiment(tmp_path, "shown", **{"train.max_steps": -1, "train.epochs": 1, "train.eval_every": 3,
                                                  "train.log_every": 1,
                                                  "train.schedule": {"kind": "linear", "warmup_steps": 10}})
    assert main(["run", str(path)]) == 0
    err = capfd.readouterr().err
    assert "{'loss'" not in err and "'learning_rate'" not in err
    assert "validation step 3/6: loss" in err and "validation step 6/6: loss" in err
    assert "train.schedule.warmup_steps (10) is not shorter than the run (6 steps from train.epochs)" in err
    (run,) = find_runs([tmp_path / "runs"])
    records = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "train"] == [1, 2, 3, 4, 5, 6]  # the full record stays
    assert any(r.get("event") == "warning" and "warmup_steps" in r["message"] for r in records)
