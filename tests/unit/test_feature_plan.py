"""The feature cache decides from the run's own numbers: fill cost against the saving over the run's epochs,
recorded in status.json; samples carry cached outputs or pixels accordingly; a resume keeps the decision."""

from __future__ import annotations

import contextlib
import json
import os
import signal

import pytest
import torch
import transformers
from PIL import Image

from plait.cli import main
from plait.errors import UserError
from plait.models.components.feature_cache import FeatureCache, ProbeTimes, content_key
from plait.runs import atomic
from plait.runs.rundir import create_run_dir, find_runs
from plait.runs.status import parse_status
from plait.train.config import TrainConfig
from plait.train.feature_plan import PROBE_IMAGES, decide, plan_feature_cache
from plait.train.loop import planned_epochs, train
from plait.train.preempt import PREEMPTED_EXIT
from tests.tiny import write_experiment
from tests.unit.test_feature_cache import build as build_with_data
from tests.unit.test_feature_cache import cache_dir  # noqa: F401  (a fixture)


@pytest.mark.parametrize("inputs, missing, fill_s, saving_s, epochs, on, says", [
    (192, 0, 0.0, 1.4, 1, True, "every training input is cached already"),  # entries on disk cost nothing
    (192, 192, 1.9, 1.4, 1, False, "not more than the ~1.90 s fill of 192"),  # one epoch cannot pay the fill
    (192, 192, 1.9, 1.4, 2, True, "more than the ~1.90 s fill"),  # 2.8 s saved
    (192, 192, 1.9, 1.4, 8, True, "8 epochs of 192 images save ~11.20 s"),
    (192, 24, 1.9 / 8, 1.4, 0.5, True, "more than"),  # most entries found: even half an epoch pays
    (192, 192, 1.9, 0.95, 2, False, "not more than"),  # 1.9 s saved does not beat a 1.9 s fill
    (192, 0, 0.0, -0.1, 8, False, "reading a stored entry is no cheaper than encoding"),  # a tiny encoder
    (0, 0, 0.0, 0.0, 8, False, "no training sample has an image"),
])
def test_decide_weighs_the_fill_against_the_saving_over_the_epochs(inputs, missing, fill_s, saving_s, epochs,
                                                                    on, says):
    decision, reason = decide(inputs, missing, fill_s, saving_s, epochs)
    assert decision is on and says in reason


def test_probe_times_a_batch_and_stores_only_the_missing_entries(tmp_path):
    paths = []
    for value in (10, 20, 30):
        paths.append(tmp_path / f"{value}.png")
        Image.new("RGB", (4, 4), (value, 0, 0)).save(paths[-1])
    encoded = []

    def encode(values):
        encoded.append(len(values))
        return torch.tensor(values, dtype=torch.float32)[:, None].repeat(1, 3)

    cache = FeatureCache(tmp_path / "enc", encode, prepare=lambda ps: [Image.open(p).getpixel((0, 0))[0] for p in ps])
    assert cache.fill(paths[:1]) == 1
    assert list(cache.missing(paths).values()) == paths[1:]
    times = cache.probe(paths)
    assert (times.images, times.stored) == (3, 2) and encoded == [1, 1, 3]  # fill, warm-up, timed batch
    assert not cache.missing(paths) and torch.equal(cache.get(paths[2]), torch.full((3,), 30.0))
    assert min(times.prepare_s, times.encode_s, times.store_s, times.load_s) >= 0
    made = ProbeTimes(images=4, stored=2, prepare_s=0.4, encode_s=0.8, store_s=0.2, load_s=0.2)
    assert made.fill_s_per_input() == pytest.approx(0.3 + 0.1)  # (prepare + encode) / 4 + store / 2
    assert made.saving_s_per_input() == pytest.approx(0.15)  # (encode - load) / 4


def test_under_mixed_precision_the_probe_times_the_steps_pass_for_the_saving(tmp_path):
    paths = []
    for value in (10, 20):
        paths.append(tmp_path / f"{value}.png")
        Image.new("RGB", (4, 4), (value, 0, 0)).save(paths[-1])
    passes = []

    def encode(values):
        passes.append((len(values), torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu")))
        return torch.tensor(values, dtype=torch.float32)[:, None]

    cache = FeatureCache(tmp_path / "enc", encode, prepare=lambda ps: [Image.open(p).getpixel((0, 0))[0] for p in ps])
    times = cache.probe(paths, step=lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    # warm-up and timed batch in full precision (what the fill runs), then both again inside the step's autocast
    assert passes == [(1, False), (2, False), (1, torch.bfloat16), (2, torch.bfloat16)]
    assert times.step_encode_s is not None and times.step_encode_s >= 0
    assert torch.equal(cache.get(paths[1]), torch.tensor([20.0]))  # entries stored from the full-precision pass
    assert cache.probe(paths).step_encode_s is None  # full precision: one pass
    made = ProbeTimes(images=4, stored=4, prepare_s=0.4, encode_s=0.8, store_s=0.2, load_s=0.2, step_encode_s=0.4)
    assert made.fill_s_per_input() == pytest.approx(0.1 + 0.2 + 0.05)  # the fill pays the full-precision pass
    assert made.saving_s_per_input() == pytest.approx(0.05)  # a step saves its own pass: (0.4 - 0.2) / 4


@pytest.mark.parametrize("precision, autocast", [("fp32", None), ("bf16", torch.bfloat16)])
def test_a_run_hands_the_probe_its_training_steps_autocast(cache_dir, tmp_path, monkeypatch, precision, autocast):
    given = []

    def probe(self, media, step=None):
        with step() if step is not None else contextlib.nullcontext():
            given.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu"))
        return ProbeTimes(len(media), 0, 0.0, 1.0, 0.0, 0.0)

    monkeypatch.setattr(FeatureCache, "probe", probe)
    exp, samples, built = build(**{"train.max_steps": 2, "train.precision": precision})
    train(exp.train, create_run_dir(tmp_path / "runs", precision), built, samples, exp.seed, evaluate=dict,
          progress=False)
    assert given == [autocast or False]


def test_planned_epochs_counts_the_samples_the_steps_draw():
    assert planned_epochs(TrainConfig(max_steps=6, batch_size=8), 48) == 1.0
    assert planned_epochs(TrainConfig(max_steps=-1, epochs=2.5, batch_size=8), 48) == 2.5
    assert planned_epochs(TrainConfig(max_steps=3, batch_size=8, grad_accum=2), 96) == 0.5


def build(**updates):
    exp, data, built = build_with_data(**updates)
    return exp, data.splits["train"], built


def fake_probe(saves: bool):
    """A probe whose encoder costs 1 s a batch (worth caching over 2 epochs) or as much as reading an entry."""
    def probe(self, media, step=None):
        return ProbeTimes(len(media), 0, 0.0, 1.0, 0.0, 0.0 if saves else 1.0)
    return probe


def image_inputs(model):
    """Which image input each forward call of `model` got: vision_features or pixel_values."""
    seen = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append("vision_features" if kwargs.get("vision_features") is not None
                                                 else "pixel_values" if kwargs.get("pixel_values") is not None
                                                 else None), with_kwargs=True)
    return seen


@pytest.mark.parametrize("saves", [True, False])
def test_a_run_records_its_decision_and_its_samples_follow_it(cache_dir, tmp_path, monkeypatch, saves):
    monkeypatch.setattr(FeatureCache, "probe", fake_probe(saves))
    exp, samples, built = build(**{"train.max_steps": 12})  # 12 steps of 8 from 48 samples: 2 epochs
    seen = image_inputs(built.model)
    run = create_run_dir(tmp_path / "runs", "plan")
    train(exp.train, run, built, samples, exp.seed, evaluate=dict, progress=False)
    record = run.status().feature_cache
    distinct = len({content_key(s.media) for s in samples})
    probed = min(PROBE_IMAGES, distinct)
    assert record.decision == ("on" if saves else "off") and record.setting == "auto"
    assert (record.inputs, record.missing, record.epochs, record.probe_images) == (48, distinct, 2.0, probed)
    assert record.fill_s_estimated == pytest.approx(distinct / probed, abs=1e-3)  # 1 s per probe batch
    assert record.saving_s_per_epoch_estimated == pytest.approx(48 / probed if saves else 0.0, abs=1e-3)
    assert seen and set(seen) == {"vision_features" if saves else "pixel_values"}
    assert (built.processor.features is not None) is saves
    events = atomic.read_jsonl(run.metrics)
    decided = [e for e in events if e.get("event") == "feature_cache_decision"]
    assert [e["decision"] for e in decided] == [record.decision]
    fills = [e for e in events if e.get("event") == "feature_cache"]
    assert [e["computed"] for e in fills] == ([distinct] if saves else [])
    if saves:
        assert record.computed == distinct and record.fill_s_measured > 0
        assert len(list(cache_dir.glob("features/*/*/*.npy"))) == distinct
    else:
        assert record.fill_s_measured is None and not list(cache_dir.glob("features/*/*/*.npy"))


def test_the_real_probe_decides_from_its_own_timings(cache_dir, tmp_path):
    exp, samples, built = build()
    run = create_run_dir(tmp_path / "runs", "real")
    train(exp.train, run, built, samples, exp.seed, evaluate=dict, progress=False)
    record = run.status().feature_cache
    distinct = len({content_key(s.media) for s in samples})
    assert record.probe_images == min(PROBE_IMAGES, distinct) and record.fill_s_estimated > 0
    on, reason = decide(record.inputs, record.missing, record.fill_s_estimated,
                        record.saving_s_per_epoch_estimated, record.epochs)
    assert record.decision == ("on" if on else "off")
    # the probe's entries stay on disk whatever the decision; the fill adds the rest when on
    entries = len(list(cache_dir.glob("features/*/*/*.npy")))
    assert entries == (distinct if on else record.probe_images)


def test_true_forces_the_cache_and_false_or_unsafe_is_recorded_off(cache_dir, tmp_path):
    for setting, updates in (("true", {"model.vision.cache_features": True}),
                             ("false", {"model.vision.cache_features": False}),
                             ("auto", {"model.vision.freeze": False})):
        exp, samples, built = build(**updates)
        run = create_run_dir(tmp_path / "runs", setting)
        plan_feature_cache(built, samples, 1.0, run, main=True)
        record = run.status().feature_cache
        assert record.setting == setting and record.probe_images is None
        if setting == "true":
            assert record.decision == "on" and record.reason == "model.vision.cache_features: true"
            assert record.computed == record.missing == len({content_key(s.media) for s in samples})
        else:
            assert record.decision == "off" and built.processor.features is None
            assert record.reason == ("model.vision.cache_features: false" if setting == "false" else
                                     "not safe: the encoder has trainable weights (it is not frozen, or has a LoRA adapter)")


def test_a_stage_that_trains_the_encoder_turns_auto_off_and_refuses_true(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(FeatureCache, "probe", fake_probe(True))
    exp, samples, built = build()
    run = create_run_dir(tmp_path / "runs", "stages")
    assert plan_feature_cache(built, samples, 2.0, run, True, "align").decision == "on"
    built.model.vision.requires_grad_(True)  # what a stage training `vision` does
    record = plan_feature_cache(built, samples, 2.0, run, True, "joint")
    assert record.decision == "off" and built.processor.features is None
    assert record.reason.startswith("stage joint makes it unsafe: the encoder has trainable weights")
    assert run.status().feature_cache.decision == "on"  # the run's decision stands; the stage's is logged
    assert [e["decision"] for e in atomic.read_jsonl(run.metrics) if e.get("event") == "feature_cache_decision"] \
        == ["on", "off"]
    _, samples, forced = build(**{"model.vision.cache_features": True})
    forced.model.vision.requires_grad_(True)
    with pytest.raises(UserError, match="model.vision.cache_features: true, but stage joint makes it unsafe"):
        plan_feature_cache(forced, samples, 2.0, create_run_dir(tmp_path / "runs", "forced"), True, "joint")


def test_status_files_without_the_record_load_and_the_record_round_trips():
    from tests.unit.test_status import FIXTURE

    assert parse_status(json.loads(FIXTURE.read_text()), "old").feature_cache is None
    record = {"decision": "off", "setting": "auto", "reason": "r", "inputs": 3, "missing": 3, "probe_images": 3,
              "fill_s_estimated": 1.0, "saving_s_per_epoch_estimated": 0.2, "epochs": 1.0}
    assert parse_status({"feature_cache": record}, "new").to_json()["feature_cache"] == record


def test_a_resumed_run_keeps_the_recorded_decision_and_ends_bit_exact(cache_dir, tmp_path, monkeypatch):
    """Pre-empted at step 3 of 12 with the cache on; resumed where a new decision would be off."""
    exp = write_experiment(tmp_path, "resume", **{"train.max_steps": 12, "train.log_every": 1,
                                                 "train.save_every": -1, "eval.splits": []})
    monkeypatch.setattr(FeatureCache, "probe", fake_probe(True))
    assert main(["run", str(exp), "--no-progress", "--set", "name=whole"]) == 0
    original = transformers.Trainer.training_step
    calls = []

    def signalling(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGUSR2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(transformers.Trainer, "training_step", signalling)
    assert main(["run", str(exp), "--no-progress"]) == PREEMPTED_EXIT
    monkeypatch.setattr(transformers.Trainer, "training_step", original)
    (whole,) = find_runs([tmp_path / "runs" / "whole"])
    (run,) = find_runs([tmp_path / "runs" / "resume"])
    decided = run.status().feature_cache
    assert decided.decision == "on"
    monkeypatch.setattr(FeatureCache, "probe", fake_probe(False))  # a fresh decision would now be off
    assert main(["run", str(exp), "--resume", str(run.path), "--no-progress"]) == 0
    status = run.status()
    assert status.state == "finished" and status.feature_cache == decided
    events = atomic.read_jsonl(run.metrics)
    assert len([e for e in events if e.get("event") == "feature_cache"]) == 2  # filled (again) on resume
    losses = [(r["step"], r["loss"], r["grad_norm"]) for r in events if r.get("split") == "train"]
    reference = [(r["step"], r["loss"], r["grad_norm"]) for r in atomic.read_jsonl(whole.metrics)
                 if r.get("split") == "train"]
    assert losses == reference and len(losses) == 12
