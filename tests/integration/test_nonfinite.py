"""A diverging run stops as failed with the step and the batch's samples; with train.skip_nonfinite it skips
those batches, changes no weight on them, and counts them."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file

from plait.cli import main
from plait.runs import atomic
from plait.runs.rundir import RunDir
from tests.mix_tiny import mix_updates
from tests.tiny import write_experiment

DIVERGING = {"train.lr": 1e30, "train.max_steps": 4, "train.batch_size": 4, "train.log_every": 1,
             "data.source.train_size": 16, "data.source.test_size": 2}


def only_run(folder: Path) -> RunDir:
    (path,) = (folder / "runs" / "tiny").iterdir()
    return RunDir(path)


def test_a_diverging_run_fails_with_the_step_and_the_samples(tmp_path: Path, capsys) -> None:
    exp = write_experiment(tmp_path, **DIVERGING)
    assert main(["run", str(exp), "--no-progress"]) == 1
    status = only_run(tmp_path).status()
    assert status.state == "failed" and status.nonfinite is not None
    assert status.nonfinite.step == 2  # step 1's update is huge but finite; the next batch's loss is not
    assert len(status.nonfinite.samples) == 4 and all(s.startswith("train-") for s in status.nonfinite.samples)
    assert status.error.startswith("non-finite ") and "train.skip_nonfinite" in status.error
    assert "plait: error: run failed: non-finite" in capsys.readouterr().err
    assert not (only_run(tmp_path).model).exists()  # nothing NaN was saved as the model


def test_skip_nonfinite_skips_and_counts_the_batches_and_leaves_the_weights(tmp_path: Path) -> None:
    exp = write_experiment(tmp_path, **DIVERGING, **{"train.skip_nonfinite": True, "train.save_every": 1,
                                                     "train.keep_checkpoints": 4})
    assert main(["run", str(exp), "--no-progress"]) == 0
    run = only_run(tmp_path)
    status = run.status()
    assert status.state == "finished" and status.nonfinite_skipped == 3  # steps 2, 3 and 4
    events = [r for r in atomic.read_jsonl(run.metrics) if r.get("event") == "nonfinite_skipped"]
    assert [e["step"] for e in events] == [2, 3, 4] and all(len(e["samples"]) == 4 for e in events)
    after_first = load_file(run.checkpoints / "step-1" / "model.safetensors")
    last = load_file(run.checkpoints / "step-4" / "model.safetensors")
    assert after_first.keys() == last.keys() and all((after_first[k] == last[k]).all() for k in last)


@pytest.mark.parametrize("mode, per_source", [("paired", 4), ("ratio", None)])
def test_a_diverging_mixed_run_names_the_samples_of_its_batch(tmp_path: Path, mode, per_source) -> None:
    spec = write_experiment(tmp_path, "tiny", **{**mix_updates(mode=mode), "train.lr": 1e30, "train.max_steps": 4})
    assert main(["run", str(spec), "--no-progress"]) == 1
    status = only_run(tmp_path).status()
    assert status.state == "failed" and status.nonfinite is not None and status.nonfinite.step == 2
    samples = status.nonfinite.samples
    sources = [s.split("/")[0] for s in samples]
    assert len(samples) == len(set(samples)) and set(sources) <= {"captions", "text"}
    if per_source:  # paired: the step's batch of each source, row by row
        assert len(samples) == 2 * per_source and sources == ["captions", "text"] * per_source
    else:  # ratio: one batch drawn from both sources
        assert len(samples) == 4
