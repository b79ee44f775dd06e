"""The benchmark harness's parts: FLOPs and MFU arithmetic, the step probe, the reference loop, the report."""

from __future__ import annotations

import pytest
import torch

from plait.bench.flops import Part, forward_flops, mfu, passes, peak_flops, step_flops
from plait.bench.probe import Probe, describe_batch
from plait.bench.reference import reference_train
from plait.bench.report import append, medians, table


def test_forward_and_step_flops_follow_the_palm_convention():
    lm = Part(params=1000, tokens=10, passes=3, layers=2, width=8, context=5)
    assert forward_flops(lm) == (2 * 1000 + 4 * 2 * 8 * 5) * 10
    encoder = Part(params=500, tokens=4, passes=1)
    assert step_flops([lm, encoder]) == 3 * forward_flops(lm) + 2 * 500 * 4
    assert [passes(True, False), passes(False, True), passes(False, False)] == [3, 2, 1]


def test_mfu_and_peaks():
    assert mfu(flops_per_step=2e12, seconds_per_step=0.5, peak=8e12) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mfu(1.0, 0.0, 1.0)
    assert peak_flops("NVIDIA H100 80GB HBM3", "bf16") == 989.4e12
    assert peak_flops("NVIDIA H100 PCIe", "bf16") == 756e12  # the PCIe card, not the SXM figure
    assert peak_flops("NVIDIA H200", "fp32") == 66.9e12
    assert peak_flops("Some GPU", "bf16") is None


def test_describe_batch_counts_real_tokens_and_packed_sequences():
    padded = {"input_ids": torch.zeros(2, 5, dtype=torch.long),
              "attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]), "pixel_values": torch.zeros(2, 3)}
    record = describe_batch(4, padded)
    assert (record.step, int(record.tokens), record.padded_tokens, record.samples, record.images) == (4, 8, 10, 2, 2)
    flat = {"input_ids": torch.zeros(1, 8, dtype=torch.long), "position_ids": torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2]]),
            "vision_features": torch.zeros(3, 2, 2)}
    record = describe_batch(0, flat)
    assert (int(record.tokens), record.padded_tokens, int(record.samples), record.images) == (8, 8, 3, 3)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, input_ids, attention_mask, labels):
        return type("Out", (), {"loss": ((self.linear(input_ids.float()) - labels) ** 2).mean()})()


def batches(n):
    return [{"input_ids": torch.ones(2, 3), "attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1]]),
             "labels": torch.zeros(2, 1)} for _ in range(n)]


def test_reference_loop_cycles_the_data_and_the_probe_times_each_step():
    torch.manual_seed(0)
    model = Tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    with Probe(model) as probe:
        losses = reference_train(model, batches(3), optimizer, scheduler, steps=4, grad_accum=2)
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert len(probe.ends) == len(probe.begins) == 4 and len(probe.batches) == 8  # 2 forward calls per step
    assert [b.step for b in probe.batches] == [0, 0, 1, 1, 2, 2, 3, 3]
    figures = probe.summary(warmup=1)
    assert figures["steps"] == 3 and figures["padding"] == pytest.approx(1 / 6)
    assert figures["tokens_per_s"] == pytest.approx(6 * 5 / figures["seconds"])
    assert figures["targets_per_s"] == pytest.approx(6 * 2 / figures["seconds"])  # every label is scored
    assert figures["samples_per_s"] == pytest.approx(6 * 2 / figures["seconds"])
    assert figures["step_ms"] >= figures["compute_ms"] > 0 and figures["peak_rss_mib"] > 0
    assert len(probe.epoch_seconds(2)) == 2
    with pytest.raises(ValueError, match="warmup"):
        probe.summary(warmup=4)


def test_probe_stops_listening_on_exit():
    model = Tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with Probe(model) as probe:
        pass
    model(**batches(1)[0]).loss.backward()
    optimizer.step()
    assert probe.begins == [] and probe.ends == []


def test_table_medians_and_append(tmp_path):
    rows = {"plait": medians([{"step_ms": 10.0, "padding": 0.5}, {"step_ms": 30.0, "padding": 0.5},
                              {"step_ms": 12.0, "padding": 0.5}])}
    text = table(rows, {"plait": {"ratio": "1.02"}})
    assert text.splitlines()[0] == "|  | step ms | padding | ratio |"  # only the columns every row has
    assert text.splitlines()[2] == "| plait | 12.0 | 50.0% | 1.02 |"
    results = tmp_path / "RESULTS.md"
    append(results, "### one\n")
    append(results, "### two\n")
    assert results.read_text() == "# Benchmark results\n\n### one\n### two\n"


def test_step_flops_and_mfu_of_a_projector_model_on_a_pretend_h100(monkeypatch):
    from plait.bench.harness import estimate_step_flops, finish, run_reference, timed_experiment
    from plait.config.schema import Experiment
    from plait.pipeline import prepare_data
    from tests.tiny import tiny

    exp = timed_experiment(Experiment.model_validate(tiny(**{"model.vision.cache_features": False})), 3)
    timing = run_reference(exp, prepare_data(exp, dry_run=False))
    built, probe = timing.extra["built"], timing.probe
    window = [b for b in probe.batches if b.step >= 1]
    tokens = sum(int(b.tokens) for b in window) / 2
    context = tokens / (sum(b.samples for b in window) / 2)
    lm, vision, projector = built.model.language, built.model.vision, built.model.projector
    lm_params = sum(p.numel() for p in lm.parameters()) - lm.get_input_embeddings().weight.numel()
    per_image = built.processor.num_image_tokens
    patches = 8 * per_image  # 8 images per step, frozen encoder, no cache
    # passes x (2 x weights + 4 x layers x width x context) x tokens: LM trains (3), the encoder runs forward only
    expected = (3 * (2 * lm_params + 4 * 1 * 16 * context) * int(tokens)
                + 1 * (2 * sum(p.numel() for p in vision.parameters()) + 4 * 1 * 16 * per_image) * patches
                + 3 * 2 * sum(p.numel() for p in projector.parameters()) * patches)
    assert estimate_step_flops(built, probe, warmup=1) == pytest.approx(expected)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args: "NVIDIA H100 80GB HBM3")
    figures = finish(timing, exp, warmup=1).figures
    seconds_per_step = figures["seconds"] / figures["steps"]
    assert figures["mfu"] == pytest.approx(expected / seconds_per_step / 66.9e12)  # fp32, TF32 off


def test_describe_batch_counts_an_encoder_decoder_batch_by_its_decoder_and_scored_labels():
    batch = {"features": torch.zeros(2, 9, 4), "decoder_input_ids": torch.zeros(2, 4, dtype=torch.long),
             "decoder_attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]),
             "labels": torch.tensor([[-100, 5, 6, 7], [-100, 8, -100, -100]])}
    record = describe_batch(3, batch)
    assert (int(record.tokens), record.padded_tokens, record.samples, record.images, int(record.targets)) == (
        6, 8, 2, 0, 4)
    assert describe_batch(0, {"input_ids": torch.zeros(1, 3, dtype=torch.long)}).targets == 0
