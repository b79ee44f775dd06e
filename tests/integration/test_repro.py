"""`plait repro`: same-seed runs are bit-identical and the report says so; a different seed differs;
a component built outside the seeded scope is caught and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import plait.pipeline
from plait.cli import main
from plait.runs.rundir import RunDir
from tests.tiny import write_experiment

QUICK = {"train.max_steps": 4, "train.log_every": 1, "data.source.train_size": 32, "data.source.test_size": 8}


def repro(exp, *flags: str) -> tuple[int, dict, str]:
    code = main(["repro", str(exp), "--no-progress", *flags])
    (folder,) = sorted((exp.parent / "runs" / exp.stem).glob("repro-*"))[-1:]
    return code, json.loads((folder / "report.json").read_text()), (folder / "report.md").read_text()


@pytest.fixture(scope="module")
def same_seed(tmp_path_factory):
    exp = write_experiment(tmp_path_factory.mktemp("same"), "same", **QUICK)
    return repro(exp, "--runs", "3")


def test_three_same_seed_runs_are_bit_identical_and_the_report_says_so(same_seed):
    code, report, markdown = same_seed
    assert code == 0
    assert report["reproducible"] is True and report["verdict"].startswith("REPRODUCIBLE")
    assert len(report["runs"]) == 3 and {r["seed"] for r in report["runs"]} == {0}
    assert report["initial_weights"]["identical"] and report["final_weights"]["identical"]
    assert report["initial_weights"]["runs"][0]["tensors"] > 10
    assert report["losses"] == {"events": [4, 4, 4], "identical": True, "first_divergence": None}
    chrf = report["metrics"]["test.chrf"]
    assert chrf["std"] == 0 and chrf["range"] == 0 and chrf["values"] == [chrf["mean"]] * 3
    for row in report["runs"]:
        run = RunDir(Path(row["path"]))
        assert run.status().tags == {"repro": report["repro_id"], "run": str(row["run"])}
        assert run.init_weights.exists()
    assert "| run | test score (exact_match) | stopped at epoch |" in markdown
    assert "| mean ± std |" in markdown and "**Verdict:** REPRODUCIBLE" in markdown


def test_vary_seed_gives_different_weights(tmp_path):
    exp = write_experiment(tmp_path, "vary", **QUICK)
    code, report, _ = repro(exp, "--runs", "2", "--vary-seed")
    assert code == 0 and report["reproducible"] is None
    assert [r["seed"] for r in report["runs"]] == [0, 1]
    assert report["initial_weights"]["identical"] is False and report["final_weights"]["identical"] is False
    assert report["losses"]["first_divergence"]["step"] == 1
    assert report["verdict"].startswith("SEEDS VARIED")


def test_component_built_outside_the_seeded_scope_is_caught_and_named(tmp_path, monkeypatch):
    """The first seed's bug: a projector layer initialised from entropy, not from the seed."""
    real = plait.pipeline.get_family

    def planted(name):
        family = real(name)

        class Planted(type(family)):
            def build(self, *args, **kwargs):
                built = family.build(*args, **kwargs)
                with torch.random.fork_rng():
                    torch.seed()  # fresh entropy, as if this layer were built before seed_everything
                    built.model.projector.net[0].reset_parameters()
                return built

        return Planted()

    monkeypatch.setattr(plait.pipeline, "get_family", planted)
    exp = write_experiment(tmp_path, "planted", **QUICK)
    code, report, markdown = repro(exp, "--runs", "2")
    assert code == 1 and report["reproducible"] is False
    assert report["initial_weights"]["differing_tensors"] == ["projector.net.0.bias", "projector.net.0.weight"]
    assert report["initial_weights"]["largest_abs_diff"] > 0
    assert "projector.net.0.bias, projector.net.0.weight" in report["verdict"]
    assert "built outside the seeded scope" in report["verdict"]
    assert "run 2 vs run 1: 2 of" in markdown


def test_fewer_than_two_runs_is_a_user_error(tmp_path, capsys):
    exp = write_experiment(tmp_path, "one", **QUICK)
    assert main(["repro", str(exp), "--runs", "1"]) == 2
    assert "--runs: need at least 2 runs" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
