"""train.distributed: DDP and DeepSpeed (ZeRO 1-2) sections, their TrainingArguments keywords, and their errors."""

from __future__ import annotations

import importlib.util
import json

import pytest
from transformers import TrainingArguments

from plait.cli import main
from plait.config import load_experiment
from plait.errors import ConfigError
from plait.train.config import TrainConfig
from plait.train.distributed import DdpConfig, distributed_arguments
from plait.train.loop import training_arguments
from tests.tiny import write_experiment


@pytest.fixture
def deepspeed_installed(monkeypatch):
    """Pretend deepspeed is importable (it is not installed here: it pulls CUDA builds)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "deepspeed" else real(name, *a))


def problems(tmp_path, *overrides):
    with pytest.raises(ConfigError) as err:
        load_experiment(write_experiment(tmp_path), list(overrides))
    return err.value.lines


def test_default_is_ddp_with_unused_parameters_found_as_before():
    cfg = TrainConfig().distributed
    assert cfg == DdpConfig(kind="ddp", find_unused_parameters=True)
    # exactly what loop.py passed before train.distributed existed
    assert distributed_arguments(cfg, 2, cpu=True) == {"ddp_backend": "gloo", "ddp_find_unused_parameters": True}
    assert distributed_arguments(cfg, 2, cpu=False) == {"ddp_backend": None, "ddp_find_unused_parameters": True}
    assert distributed_arguments(cfg, 1, cpu=True) == {"ddp_backend": None, "ddp_find_unused_parameters": None}
    fast = DdpConfig(find_unused_parameters=False)
    assert distributed_arguments(fast, world_size=4, cpu=False)["ddp_find_unused_parameters"] is False


def test_single_process_training_arguments_are_unchanged(tmp_path):
    args = training_arguments(TrainConfig(max_steps=2), tmp_path, 2, 0, False)
    assert args.ddp_backend is None and args.ddp_find_unused_parameters is None
    assert not args.fsdp and args.deepspeed is None


def test_fsdp_and_zero_3_are_refused_with_the_reason_before_any_run(tmp_path, capsys, deepspeed_installed):
    spec = write_experiment(tmp_path, **{"train.max_steps": 2})
    assert main(["run", str(spec), "--nproc", "2", "--set", "train.distributed.kind=fsdp"]) == 2
    err = capsys.readouterr().err
    assert "--set train.distributed.kind: fsdp is not supported yet (plait evaluates and saves on rank 0" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
    (tmp_path / "z3.json").write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    for given, where in (("z3.json", str(tmp_path / "z3.json")), ("{zero_optimization: {stage: 3}}", "the inline settings")):
        lines = problems(tmp_path, f"train.distributed={{kind: deepspeed, config: {given}}}")
        assert len(lines) == 1 and f"{where}: zero_optimization.stage 3 splits parameters" in lines[0]


@pytest.mark.parametrize("override, line", [
    ("train.distributed={kind: ddp, sharding: full_shard}",
     "train.distributed.sharding: unknown key; valid keys here: find_unused_parameters, kind"),
    ("train.distributed.kind=zero", "'ddp', 'fsdp', 'deepspeed'"),
])
def test_bad_ddp_sections_name_the_field(tmp_path, override, line):
    assert any(line in p for p in problems(tmp_path, override))


def test_deepspeed_missing_is_one_clear_line_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "ds.json").write_text("{}")
    spec = write_experiment(tmp_path, **{"train.distributed": {"kind": "deepspeed", "config": "ds.json"}})
    assert importlib.util.find_spec("deepspeed") is None  # the premise: not installed here
    assert main(["run", str(spec), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "train.distributed.kind: got 'deepspeed': deepspeed is not installed; pip install deepspeed" in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert not (tmp_path / "runs").exists()


def test_deepspeed_file_is_resolved_next_to_the_experiment_and_forwarded(tmp_path, deepspeed_installed):
    ds = {"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": "auto"}
    (tmp_path / "ds.json").write_text(json.dumps(ds))
    exp = load_experiment(write_experiment(tmp_path), ["train.distributed={kind: deepspeed, config: ds.json}"])
    assert distributed_arguments(exp.train.distributed, world_size=2, cpu=False) == {
        "ddp_backend": None, "deepspeed": str(tmp_path / "ds.json")}
    assert exp.model_dump(mode="json")["train"]["distributed"]["config"] == str(tmp_path / "ds.json")


def test_deepspeed_inline_settings_are_forwarded(tmp_path, deepspeed_installed):
    inline = "train.distributed={kind: deepspeed, config: {zero_optimization: {stage: 2}}}"
    exp = load_experiment(write_experiment(tmp_path), [inline])
    kwargs = distributed_arguments(exp.train.distributed, world_size=2, cpu=False)
    assert kwargs["deepspeed"] == {"zero_optimization": {"stage": 2}}


def test_deepspeed_file_problems_name_the_field(tmp_path, deepspeed_installed):
    (tmp_path / "bad.json").write_text("{zero: ")
    missing = problems(tmp_path, "train.distributed={kind: deepspeed, config: nope.json}")
    assert missing == ["--set train.distributed: train.distributed.config: got 'nope.json': DeepSpeed config file "
                       f"{tmp_path / 'nope.json'} not found; give a JSON file or the settings inline"]
    bad = problems(tmp_path, "train.distributed={kind: deepspeed, config: bad.json}")
    assert len(bad) == 1 and "train.distributed.config" in bad[0] and "is not valid JSON" in bad[0]
    assert problems(tmp_path, "train.distributed.kind=deepspeed") == [
        f"{tmp_path / 'tiny.yaml'}: train.distributed.config: required but missing"]
