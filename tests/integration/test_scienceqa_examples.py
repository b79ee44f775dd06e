"""The LaVIN-7B examples validate, dry-run end to end with tiny local stand-ins for CLIP and LLaMA (`--set`,
nothing downloaded), record the study's per-layer dropout, and the study's sweep is the grid of eight variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from plait.cli import main
from plait.config import load_experiment
from plait.data.builtin.scienceqa import generate_scienceqa
from plait.runs.rundir import find_runs
from plait.sweep.load import check_against_experiment, load_sweep, trial_count
from plait.sweep.space import as_overrides, grid_values
from tests.tiny_llava import tiny_clip, tiny_lm

EXAMPLES = Path(__file__).resolve().parents[2] / "experiments"
BASE = EXAMPLES / "lavin-7b.yaml"
VARIANTS = [EXAMPLES / f"lavin-7b-{v}.yaml" for v in ("cyclic", "step", "exponential", "rising", "falling")]
SWEEP = EXAMPLES / "sweeps" / "lavin-study.yaml"


def test_examples_validate_with_the_recipe(stand_ins, capsys):
    overrides, _ = stand_ins
    assert main(["validate", "--quiet", str(BASE), *map(str, VARIANTS), *(a for o in overrides for a in ("--set", o))]) == 0
    assert main(["validate", "--quiet", str(BASE)]) == 2  # as shipped: only the user's ScienceQA folder is missing
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all("data.source.root" in line and "does not exist" in line for line in lines)
    exp = load_experiment(BASE)
    assert exp.train.lr == pytest.approx(9e-3 * 2 * 4 * 4 / 256) and exp.train.adam_betas == (0.9, 0.95)
    assert (exp.model.adapter.dim, exp.model.adapter.temperature, exp.model.vision.every) == (8, 10.0, 4)
    assert exp.data.source.prompt_format == "QCM-ALE" and exp.eval.task == "multiple_choice"
    kinds = [load_experiment(v).train.schedule.kind for v in VARIANTS[:3]]
    assert kinds == ["cyclic", "step", "exponential"]
    assert load_experiment(VARIANTS[3]).model.adapter.dropout.values(32)[-1] == 0.136133
    assert load_experiment(VARIANTS[4]).model.adapter.dropout.values(32)[23:] == [0.1] * 9


def test_the_study_sweep_is_the_grid_of_eight_variants():
    cfg = load_sweep(SWEEP)
    assert trial_count(cfg, str(SWEEP)) == 8
    check_against_experiment(cfg, [], str(SWEEP))
    grid = grid_values(cfg.space, str(SWEEP))
    seen = set()
    param = cfg.space["train.schedule"]
    for code in grid["train.schedule"]:
        for dropout in grid["model.adapter.dropout"]:
            exp = load_experiment(cfg.experiment, as_overrides({"train.schedule": param.decode(code),
                                                                "model.adapter.dropout": dropout}))
            d = exp.model.adapter.dropout
            seen.add((exp.train.schedule.kind, d.prob, d.limit, d.var))
            variant = EXAMPLES / f"lavin-7b-{exp.train.schedule.kind}.yaml"
            if variant.exists():  # each schedule with the settings of its variant file
                assert exp.train.schedule == load_experiment(variant).train.schedule
    assert len(seen) == 8 and {s[1:] for s in seen} == {(0.1, 0.2, 1.01), (0.2, 0.1, 0.97)}


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lavin")
    data = generate_scienceqa(24, 4, 6, 16, 1234)
    return [f"model.vision.pretrained={tiny_clip()}", f"model.language.pretrained={tiny_lm()}",
            "model.vision.every=1", f"data.source.root={data}", "train.precision=fp32", "launch.nproc=1",
            "eval.max_new_tokens=4", f"output_dir={folder / 'runs'}"], folder


@pytest.mark.slow
@pytest.mark.parametrize("example", [BASE, VARIANTS[4]], ids=["base", "falling"])
def test_examples_dry_run_with_tiny_stand_ins(stand_ins, example):
    overrides, folder = stand_ins
    args = ["run", str(example), "--dry-run", "--no-progress"]
    assert main(args + [a for o in overrides for a in ("--set", o)]) == 0
    (run,) = [r for r in find_runs([folder / "runs"]) if r.path.parent.name == example.stem]
    status = run.status()
    assert status.state == "finished" and status.dry_run and status.step == 3
    config = yaml.safe_load(run.config.read_text())
    expected = [0.1, 0.1] if example == BASE else [0.2, 0.194]  # the stand-ins have 2 LM and 2 CLIP layers
    assert config["model"]["layer_dropout"] == {"language": expected, "vision": expected}
    record = json.loads((run.eval_dir / "test.json").read_text())
    assert list(record["categories"])[-1] == "Average" and record["coverage"]["evaluated"] == 6
    saved = sorted(p.name for p in run.model.iterdir())
    # the checkpoints rebuild the frozen bases: only the adapters, the modality token and the visual MLP are saved
    assert "adapter.safetensors" in saved and "model.safetensors" not in saved
