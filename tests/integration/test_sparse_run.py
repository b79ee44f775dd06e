"""`plait run` with train.sparsity on the projector and mapper families: exact non-zero counts, masks in the
checkpoints, the measured sparsity in status, eval files and `plait summarize`, and a bit-exact RigL resume."""

from __future__ import annotations

import random
import shutil

import pytest
import torch
from safetensors.torch import load_file

from plait.cli import main
from plait.data.builtin.signs import generate_signs
from plait.report.summarize import summarize
from plait.runs import atomic
from plait.runs.rundir import RunDir, find_runs
from plait.train.sparsity.masks import MASK_FILE
from tests.integration.test_mapper_cli import only_run, tsv_experiment
from tests.integration.test_resume import (SETTINGS, STEPS_PER_EPOCH, assert_identical, final_weights, killed_run,
                                           run_cli)
from tests.tiny import write_experiment

RIGL = {"target": 0.8, "method": "rigl", "update_every": 2, "stop_at": 1.0, "drop_fraction": 0.5,
        "distribution": "erk"}


def sparsity_events(run: RunDir) -> list[dict]:
    return [r for r in atomic.read_jsonl(run.metrics) if r.get("event") == "sparsity"]


@pytest.fixture(scope="module")
def rigl_run(tmp_path_factory) -> RunDir:
    folder = tmp_path_factory.mktemp("rigl")
    exp = write_experiment(folder, "rigl", **{"train.max_steps": 8, "train.save_every": 4, "train.sparsity": RIGL})
    assert main(["run", str(exp), "--no-progress"]) == 0
    (run,) = find_runs([folder / "runs"])
    return run


def test_every_update_is_logged_with_the_exact_mask_share(rigl_run):
    events = sparsity_events(rigl_run)
    assert [(e["step"], e["update"]) for e in events] == [(0, "start"), (2, "rigl"), (4, "rigl"), (6, "rigl")]
    covered = events[0]["covered_parameters"]
    exact = 1 - round(0.2 * covered) / covered
    assert all(e["masked"] == round(exact, 6) for e in events)
    assert all(e["covered"] >= e["masked"] for e in events)  # regrown weights are active but still zero
    assert [e["regrown"] > 0 for e in events[1:]] == [True, True, True]
    assert events[1]["drop_fraction"] > events[2]["drop_fraction"] > events[3]["drop_fraction"]  # cosine decay
    assert 0 < events[0]["overall"] < events[0]["covered"]  # embeddings, norms and biases stayed dense


def test_checkpoints_hold_the_masks_and_the_weights_are_zero_outside_them(rigl_run):
    for step in (4, 8):
        folder = rigl_run.checkpoints / f"step-{step}"
        masks = load_file(folder / MASK_FILE)
        weights = load_file(folder / "model.safetensors")
        assert masks and set(masks) <= set(weights)
        total = sum(m.numel() for m in masks.values())
        assert sum(int(m.sum()) for m in masks.values()) == round(0.2 * total)
        for name, mask in masks.items():
            assert not weights[name][mask == 0].any(), f"step {step}: {name} non-zero outside its mask"


def test_measured_sparsity_is_in_status_eval_and_summarize(rigl_run, tmp_path):
    status = rigl_run.status()
    measured = status.sparsity
    assert measured["target"] == 0.8 and measured["method"] == "rigl"
    # after the last step every regrown weight has moved: the measured share is the masks' share
    assert measured["covered"] == pytest.approx(1 - round(0.2 * measured["covered_parameters"])
                                                / measured["covered_parameters"], abs=1e-6)
    assert set(measured["modules"]) == set(load_file(rigl_run.checkpoints / "step-8" / MASK_FILE))
    record = rigl_run.eval_result("test")
    assert record["sparsity"]["overall"] == measured["overall"]
    summary = summarize([rigl_run.path.parent], tmp_path / "summary", metrics=["bleu"])
    assert summary.display["sparsity"].tolist() == [f"{100 * measured['overall']:.2f}%"]
    assert "sparsity" in (tmp_path / "summary" / "summary.md").read_text()


def test_mapper_family_static_sparsity(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "cache"))
    train = generate_signs(8, 0, 0, 6, 2, 3, 0.05, 5) / "train.tsv"
    static = {"target": 0.5, "exclude": ["*.shared.weight"], "include": ["mapper.*", "backbone.*"]}
    exp = tsv_experiment(tmp_path, train, train, train={"max_steps": 4, "batch_size": 4, "sparsity": static},
                         eval={"metrics": ["chrf"], "headline": "chrf"})
    assert main(["run", str(exp), "--no-progress"]) == 0
    run = RunDir(only_run(tmp_path / "runs"))
    measured = run.status().sparsity
    assert measured["method"] == "static" and measured["modules"]
    assert all(name.startswith(("mapper.", "backbone.")) for name in measured["modules"])
    assert all(abs(share - 0.5) < 0.01 for share in measured["modules"].values())
    weights = load_file(run.model / "model.safetensors")
    zeros = sum(int((weights[n] == 0).sum()) for n in measured["modules"] if n in weights)
    assert zeros >= measured["covered_parameters"] - round(0.5 * measured["covered_parameters"])


@pytest.mark.slow
def test_rigl_run_sigkilled_after_an_update_resumes_bit_exact(tmp_path):
    """Killed in the step after a checkpoint written right after a RigL update, whose regrown weights are
    still zero: only the saved masks tell them from the dropped ones."""
    settings = {**SETTINGS, "train.sparsity": RIGL, "train.keep_checkpoints": 12}
    (tmp_path / "a").mkdir()
    uninterrupted = run_cli(str(write_experiment(tmp_path / "a", "resume", **settings)))
    (tmp_path / "b").mkdir()
    exp = write_experiment(tmp_path / "b", "resume", **settings)
    step = random.choice([3, 5, 9])  # the checkpoint at step - 1 follows an update (every 2 steps)
    where = f"killed at micro-batch {2 * step} (inside step {step}), rigl"
    run = killed_run(exp, "training_step", 2 * step)
    assert run.complete_checkpoints()[-1].name == f"step-{step - 1}", where
    control = RunDir(run.path.with_name(run.name + "-control"))
    shutil.copytree(run.path, control.path)
    run_cli(str(exp), "--resume", str(run.path))
    assert_identical(run, uninterrupted, where)
    assert sparsity_events(run) == sparsity_events(uninterrupted)
    assert run.status().step == STEPS_PER_EPOCH * 2
    # negative control: without the saved masks the resumed run re-derives them by magnitude and differs
    (control.checkpoints / f"step-{step - 1}" / MASK_FILE).unlink()
    run_cli(str(exp), "--resume", str(control.path))
    ours, theirs = final_weights(control), final_weights(uninterrupted)
    assert any(not torch.equal(ours[k], theirs[k]) for k in ours), where


def test_a_family_from_the_test_folder_trains_sparse_with_rigl(tmp_path):
    """Nothing in train.sparsity knows the family: the toy family of tests/toy_family.py (a plain MLP) works."""
    import yaml
    from toy_family import SPEC

    from plait.models import registry
    from tests.integration.test_toy_family import EXPERIMENT

    registry.register(SPEC)
    try:
        exp = {**EXPERIMENT, "output_dir": str(tmp_path / "runs"),
               "train": {**EXPERIMENT["train"], "max_steps": 20, "sparsity": {**RIGL, "update_every": 5}}}
        (tmp_path / "toy.yaml").write_text(yaml.safe_dump(exp))
        assert main(["run", str(tmp_path / "toy.yaml"), "--no-progress"]) == 0
    finally:
        registry.unregister("toy")
    (run,) = find_runs([tmp_path / "runs"])
    events = sparsity_events(run)
    assert [e["step"] for e in events] == [0, 5, 10, 15]
    covered = events[0]["covered_parameters"]
    assert all(e["masked"] == round(1 - round(0.2 * covered) / covered, 6) for e in events)
    assert run.eval_result("test")["sparsity"]["covered"] == pytest.approx(events[0]["masked"], abs=1e-6)


def test_fine_tuning_a_sparse_run_with_static_sparsity_keeps_its_zeros(rigl_run, tmp_path):
    static = {"target": RIGL["target"], "distribution": RIGL["distribution"]}
    exp = write_experiment(tmp_path, "tune", **{"train.max_steps": 4, "train.sparsity": static,
                                                "init_from": str(rigl_run.path)})
    assert main(["run", str(exp), "--no-progress"]) == 0
    (tuned,) = find_runs([tmp_path / "runs"])
    before = load_file(rigl_run.checkpoints / "step-8" / "model.safetensors")
    after = {f"projector.{k}": v for k, v in load_file(tuned.model / "projector.safetensors").items()}
    if (tuned.model / "model.safetensors").exists():
        after |= load_file(tuned.model / "model.safetensors")
    covered = [n for n in tuned.status().sparsity["modules"] if n in after]
    assert any(n.startswith("language.") for n in covered) and any(n.startswith("projector.") for n in covered)
    assert any(not torch.equal(after[n], before[n]) for n in covered)  # it trained
    for name in covered:
        assert torch.equal(after[name] == 0, before[name] == 0), name
