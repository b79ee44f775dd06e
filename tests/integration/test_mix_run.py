"""Mixed training end to end: the logged loss is the weighted sum of the per-source losses computed apart,
both are logged, held-out text gets a perplexity, and a killed paired run resumes bit-exact."""

from __future__ import annotations

import pytest
import torch

from plait.config import load_experiment
from plait.data.mix import MixSampler, by_source
from plait.models.family import BuildOptions, get_family
from plait.pipeline import prepare_data
from plait.runs import atomic
from plait.train.seed import seed_everything
from tests.integration.test_resume import final_weights, killed_run, run_cli
from tests.mix_tiny import mix_updates
from tests.tiny import write_experiment


def first_step_losses(path) -> dict[str, float]:
    """Each source's loss on the first paired batch, computed apart with the model as built."""
    exp = load_experiment(path)
    data = prepare_data(exp, dry_run=False)
    seed_everything(exp.seed)
    built = get_family(exp.model.family).build(exp.model, data.splits["train"], BuildOptions())
    groups = by_source(data.splits["train"], ["captions", "text"])
    sampler = MixSampler([len(g) for g in groups.values()], [1.0, 0.25], "paired", exp.seed)
    first = list(sampler)[: exp.train.batch_size]
    built.model.eval()
    out = {}
    with torch.no_grad():
        for j, (name, group) in enumerate(groups.items()):
            batch = built.processor.collate([built.processor.encode_train(group[index[j]]) for index in first])
            out[name] = float(built.model(**batch).loss)
    return out


@pytest.mark.parametrize("family", ["flamingo", "git"])
def test_paired_loss_is_the_weighted_sum_and_each_is_logged(tmp_path, family):
    path = write_experiment(tmp_path, f"mix-{family}", **mix_updates(family))
    run = run_cli(str(path))
    logs = [r for r in atomic.read_jsonl(run.metrics) if r["split"] == "train"]
    apart = first_step_losses(path)
    first = logs[0]
    assert first["step"] == 1
    assert first["loss_captions"] == pytest.approx(apart["captions"], rel=1e-5)
    assert first["loss_text"] == pytest.approx(apart["text"], rel=1e-5)
    assert first["loss"] == pytest.approx(apart["captions"] + 0.25 * apart["text"], rel=1e-5)
    assert all({"loss_captions", "loss_text"} <= set(r) for r in logs)
    test = run.eval_result("test")
    assert {"bleu", "chrf", "loss_text", "perplexity_text", "loss_captions"} <= set(test["metrics"])
    assert test["coverage"]["evaluated"] == 4  # generation on the caption source only (4 test captions)
    report = atomic.read_json(run.data_report)
    assert report["train"]["skipped"] == {}  # 24 rows: the first failed download is row 50


def test_ratio_mode_trains_one_batch_per_step(tmp_path):
    path = write_experiment(tmp_path, "mix-ratio", **mix_updates("flamingo", mode="ratio", text_weight=1.0))
    run = run_cli(str(path))
    logs = [r for r in atomic.read_jsonl(run.metrics) if r["split"] == "train"]
    assert [r["step"] for r in logs] == [1, 2, 3, 4] and "loss_text" not in logs[0]
    assert run.status().state == "finished"


@pytest.mark.slow
def test_killed_paired_run_resumes_bit_exact(tmp_path):
    settings = mix_updates("flamingo") | {"train.max_steps": -1, "train.epochs": 2, "train.grad_accum": 2,
                                          "train.save_every": 1, "train.keep_checkpoints": 2}
    settings["model"]["language"]["config"]["attention_dropout"] = 0.2  # RNG state matters
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    reference = run_cli(str(write_experiment(tmp_path / "a", "mix", **settings)))
    exp = write_experiment(tmp_path / "b", "mix", **settings)
    # 40 text samples / batch 4 = 10 micro-batches an epoch, 5 steps; killed inside step 4's accumulation
    run = killed_run(exp, "training_step", 8)
    assert run.complete_checkpoints()[-1].name == "step-3"
    run_cli(str(exp), "--resume", str(run.path))
    ours, theirs = final_weights(run), final_weights(reference)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    logged = [{k: v for k, v in r.items() if k.startswith(("loss", "grad_norm", "step"))}
              for r in atomic.read_jsonl(run.metrics) if r["split"] == "train"]
    expected = [{k: v for k, v in r.items() if k.startswith(("loss", "grad_norm", "step"))}
                for r in atomic.read_jsonl(reference.metrics) if r["split"] == "train"]
    assert logged == expected and len(logged) == 10
    assert run.eval_result("test")["metrics"] == reference.eval_result("test")["metrics"]
