"""train.report_to: TensorBoard event files, an offline W&B run and a local MLflow store get plait's metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plait.cli import main
from plait.config.load import load_experiment
from plait.errors import ConfigError
from plait.runs.rundir import find_runs
from plait.train.tracking import scalars
from tests.tiny import write_experiment

# the packages are in the `track` extra (scripts/test.sh installs all,test): a missing one fails, never skips
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
import mlflow  # noqa: E402,F401
import wandb  # noqa: E402,F401


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("tracked")
    store = folder / "mlruns"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WANDB_MODE", "offline")
        env.setenv("WANDB_SILENT", "true")
        env.setenv("WANDB_CONSOLE", "off")
        env.setenv("MLFLOW_TRACKING_URI", store.as_uri())
        env.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this switch
        path = write_experiment(folder, "tracked", **{"train.report_to": ["tensorboard", "wandb", "mlflow"],
                                                      "train.eval_every": 3, "train.max_steps": 6})
        assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = find_runs([folder / "runs"])
    records = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    return run, store, records


@pytest.mark.slow
def test_tensorboard_event_files_hold_train_validation_and_test_metrics(tracked_run) -> None:
    run, _, records = tracked_run
    events = EventAccumulator(str(run.path / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"train/loss", "train/learning_rate", "validation/loss", "validation/exact_match",
            "test/exact_match", "test/bleu"} <= set(tags)
    losses = [(e.step, round(e.value, 5)) for e in events.Scalars("train/loss")]
    assert losses == [(r["step"], round(r["loss"], 5)) for r in records if r["split"] == "train"]
    assert [e.step for e in events.Scalars("validation/loss")] == [3, 6]
    (test,) = [r for r in records if r["split"] == "test"]
    assert events.Scalars("test/exact_match")[0].value == pytest.approx(test["exact_match"])
    texts = events.Tags()["tensors"]
    assert "plait/run_dir/text_summary" in texts and "plait/config/text_summary" in texts


@pytest.mark.slow
def test_mlflow_file_store_has_the_metrics_config_and_run_directory(tracked_run) -> None:
    run, store, records = tracked_run
    client = mlflow.MlflowClient(tracking_uri=store.as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "tracked"]
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "FINISHED"
    assert found.data.tags["plait.run_dir"] == str(run.path.resolve())
    assert found.data.params["train.max_steps"] == "6" and found.data.params["model.family"] == "projector"
    (test,) = [r for r in records if r["split"] == "test"]
    assert found.data.metrics["test/exact_match"] == pytest.approx(test["exact_match"])
    history = client.get_metric_history(found.info.run_id, "train/loss")
    assert sorted(m.step for m in history) == [r["step"] for r in records if r["split"] == "train"]
    artifact = Path(found.info.artifact_uri.removeprefix("file://")) / "plait_config.json"
    assert json.loads(artifact.read_text())["train"]["report_to"] == ["tensorboard", "wandb", "mlflow"]


@pytest.mark.slow
def test_wandb_offline_run_is_written_inside_the_run_directory(tracked_run) -> None:
    """wandb 0.31 keeps an offline run in one binary transaction log (no reader in its Python package):
    the metric names, the run directory and the config are in it."""
    run, _, _ = tracked_run
    (offline,) = list((run.path / "wandb").glob("offline-run-*"))
    (log,) = list(offline.glob("*.wandb"))
    data = log.read_bytes()
    for needle in ("train/loss", "validation/exact_match", "test/exact_match", "test/bleu", "plait_run_dir",
                   str(run.path.resolve()), "report_to", "learning_rate"):
        assert needle.encode() in data, needle


def test_report_to_takes_a_name_a_list_or_none(tmp_path: Path) -> None:
    def report_to(value: object) -> list[str]:
        return load_experiment(write_experiment(tmp_path, **{"train.report_to": value})).train.report_to

    assert report_to("none") == [] and report_to(None) == []
    assert report_to("tensorboard") == ["tensorboard"]
    assert report_to(["mlflow", "wandb"]) == ["mlflow", "wandb"]
    assert load_experiment(write_experiment(tmp_path)).train.report_to == []
    with pytest.raises(ConfigError, match=r"train\.report_to\[0\]"):
        report_to(["comet"])


def test_only_numbers_of_metric_records_are_sent_at_the_global_step() -> None:
    assert scalars({"step": 0, "split": "event", "event": "built", "parameters": 10}) is None
    assert scalars({"step": 4, "global_step": 14, "split": "train", "loss": 1.5, "stage": "b", "flag": True}) == (
        14, {"train/loss": 1.5})
