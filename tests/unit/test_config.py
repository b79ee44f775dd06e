"""Experiment loading: strict validation, all errors at once, extends, overrides, file.py:function."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from plait.cli import main
from plait.config import load_experiment
from plait.errors import ConfigError, UserError
from tests.tiny import tiny, write_experiment


def test_quickstart_resolves_every_default():
    exp = load_experiment("experiments/quickstart.yaml")
    assert exp.name == "quickstart"
    dumped = exp.model_dump(mode="json")
    assert dumped["train"]["schedule"] == {"warmup_steps": 100, "kind": "cosine", "min_lr_ratio": 0.0}
    assert dumped["eval"]["num_beams"] == 1
    assert dumped["model"]["vision"]["layer"] == -1


def test_three_problems_reported_at_once_and_exit_2(tmp_path, capsys):
    bad = tiny()
    bad["model"]["projectr"] = {"kind": "mlp"}           # misspelled key
    bad["train"]["lr"] = "fast"                          # wrong type
    bad["train"]["batch_size"] = 0                       # out of range
    bad["output_dir"] = str(tmp_path / "runs")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert any("model.projectr: unknown key; valid keys here:" in e and "projector" in e for e in err)
    assert any("train.lr: got 'fast'" in e and "valid number" in e for e in err)
    assert any("train.batch_size: got 0" in e and "greater than or equal to 1" in e for e in err)
    assert all(e.startswith(f"plait: error: {path}") for e in err)
    assert main(["run", str(path)]) == 2
    assert not (tmp_path / "runs").exists()


def test_extends_and_overrides(tmp_path):
    base = write_experiment(tmp_path, "base")
    child = tmp_path / "child.yaml"
    child.write_text(textwrap.dedent("""
        extends: base.yaml
        name: child
        train: {lr: 0.01}
    """))
    exp = load_experiment(child, ["train.batch_size=4", "train.schedule.kind=cosine", "tags.owner=me"])
    assert exp.name == "child"
    assert exp.train.lr == 0.01 and exp.train.batch_size == 4
    assert exp.train.max_steps == 6  # inherited from base
    assert exp.train.schedule.kind == "cosine"
    assert exp.tags == {"owner": "me"}
    assert base.exists()


def test_extends_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(UserError, match="cycle"):
        load_experiment(tmp_path / "a.yaml")


def test_python_function_experiment(tmp_path):
    module = tmp_path / "settings.py"
    module.write_text(textwrap.dedent("""
        from tests.tiny import tiny

        def small_lr():
            cfg = tiny()
            cfg["train"]["lr"] = 5e-5
            return cfg
    """))
    exp = load_experiment(f"{module}:small_lr")
    assert exp.train.lr == 5e-5
    with pytest.raises(UserError, match="no function `nope`; functions there: .*small_lr"):
        load_experiment(f"{module}:nope")


def test_bad_override_names_the_flag():
    with pytest.raises(UserError, match="--set train.lr: expected key.sub=value"):
        load_experiment("experiments/quickstart.yaml", ["train.lr"])


def test_unknown_family_and_discriminated_union_errors(tmp_path):
    path = write_experiment(tmp_path, "x")
    with pytest.raises(ConfigError) as info:
        load_experiment(path, ["train.schedule.kind=sawtooth", "model.vision.feature=mean"])
    lines = info.value.lines
    assert any("train.schedule" in line and "sawtooth" in line for line in lines)
    assert any("model.vision.feature: got 'mean'" in line and "'patch' or 'pooled'" in line for line in lines)


def test_relative_manifest_paths_resolve_against_the_file(tmp_path):
    sub = tmp_path / "exps"
    sub.mkdir()
    cfg = tiny()
    cfg["data"] = {"source": {"kind": "manifest", "train": "data/train.jsonl"}}
    (sub / "m.yaml").write_text(yaml.safe_dump(cfg))
    exp = load_experiment(sub / "m.yaml")
    assert exp.data.source.train == (sub / "data" / "train.jsonl").resolve()


def test_padding_free_with_an_encoder_decoder_is_refused_before_any_run(tmp_path, capsys):
    assert main(["run", "experiments/signs-quickstart.yaml", "--set", "train.padding_free=true",
                 "--set", f"output_dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err
    assert "train.padding_free: the mapper family cannot pack sequences" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
    assert load_experiment("experiments/quickstart.yaml", ["train.padding_free=true"]).train.padding_free
