"""The mapper family's peer: a plain transformers Seq2SeqTrainer on the signs quickstart (`peers --family mapper`).

The model is the quickstart's (experiments/signs-quickstart.yaml: keypoint frames -> layer norm -> strided conv
mapper -> dropout -> 2+2-layer M2M100), built by plait under the experiment's seed and saved once; the peer makes
it from plain parts and loads that saved state. transformers has no frames-to-embeddings mapper, so a user of it
alone writes one; the peer takes plait's (MapperSeq2Seq around plait's ConvMapper and transformers'
M2M100ForConditionalGeneration made from the saved config) instead of a copy of it, so both sides run the same
forward and backward and the figures differ by the training loop and data path only. The tokenizer is the
one plait saved, loaded by AutoTokenizer.

The peer's data is plait's encoded samples (frames, encoder-prompt ids, decoder ids, answer-only labels)
stored once in a `datasets.Dataset`; its collator is transformers' DataCollatorForSeq2Seq for the decoder ids and
labels, the tokenizer's `pad` for the left-padded encoder prompt, and torch's `pad_sequence` for the frames; the
frame mask is the one line no library writes (checked: transformers' DataCollatorWithPadding and
DataCollatorForSeq2Seq pad token lists only, and its feature extractors' `pad` wants a feature extractor for the
keypoint layout). Batch, learning rate, cosine schedule with warm-up, steps, max_grad_norm and weight decay are
the experiment's; the optimizer is the Trainer's default (fused AdamW, `seq2seq`) or plait's (`seq2seq-plait-opt`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

SIDES = ("plait", "seq2seq", "seq2seq-plait-opt")
PEERS = {"seq2seq": "Seq2SeqTrainer", "seq2seq-plait-opt": "Seq2SeqTrainer on plait's optimizer"}
TITLE = "plait beside a plain transformers Seq2SeqTrainer (signs quickstart, mapper family)"
OVERRIDES = ["train.eval_every=-1", "train.save_every=-1", "eval.splits=[]"]


def experiment(steps: int):
    from benchmarks.common import experiment as load

    return load("experiments/signs-quickstart.yaml", *OVERRIDES, f"train.max_steps={steps}")


def prepare(steps: int, folder: Path) -> Path:
    """The quickstart's mapper model as built (untrained) under the experiment's seed, saved by plait."""
    from plait.bench.harness import build
    from plait.models.registry import get_family
    from plait.pipeline import prepare_data

    exp = experiment(steps)
    get_family("mapper").save(build(exp, prepare_data(exp, dry_run=False)), exp.model, folder / "mapper")
    return folder / "mapper"


def peer_model(exp, folder: Path):
    """The same model from plain parts (transformers' M2M100 from the saved config), with the saved weights."""
    from safetensors.torch import load_model
    from torch import nn
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    from plait.models.mapper.mappers import ConvMapper
    from plait.models.mapper.model import MapperSeq2Seq

    backbone = AutoModelForSeq2SeqLM.from_config(AutoConfig.from_pretrained(folder / "backbone"))
    in_dim, m = json.loads((folder / "plait_model.json").read_text())["input_dim"], exp.model.mapper
    if m.kind != "conv":
        raise SystemExit(f"the peer builds the signs quickstart's conv mapper, not model.mapper.kind={m.kind!r}")
    mapper = ConvMapper(in_dim, backbone.config.d_model, m.layers, m.kernel_size, m.stride, m.activation)
    norm = nn.LayerNorm(in_dim) if exp.model.layer_norm else nn.Identity()
    model = MapperSeq2Seq(norm, mapper, exp.model.dropout, backbone)
    missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=False)
    # a tied weight (M2M100's embeddings and head) is stored once, under one of its names
    state = dict(model.named_parameters(remove_duplicate=False))
    loaded = {state[n].data_ptr() for n in state if n not in missing}
    if unexpected or any(state[n].data_ptr() not in loaded for n in missing):
        raise SystemExit(f"saved weights do not fit the peer's model: missing {missing}, unexpected {unexpected}")
    return model


def rows(processor, samples):
    """plait's encoded samples, once, in a typed datasets.Dataset (benchmarks.peers.stored)."""
    from benchmarks.peers import stored

    encoded = [processor.encode_train(s) for s in samples]
    return stored([{"features": e["features"].numpy(), "prompt_ids": e["prompt_ids"],
                    "decoder_input_ids": e["decoder_ids"], "labels": e["labels"]} for e in encoded],
                  {"features": (None, processor.input_dim)})


def collator(tokenizer):
    """DataCollatorForSeq2Seq for the decoder side, the tokenizer's pad for the prompt, pad_sequence for frames."""
    import torch
    from torch.nn.utils.rnn import pad_sequence
    from transformers import DataCollatorForSeq2Seq

    decoder = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, return_tensors="pt")

    def collate(batch: list[dict]) -> dict:
        dec = decoder([{"input_ids": b["decoder_input_ids"], "labels": b["labels"]} for b in batch])
        prompt = tokenizer.pad({"input_ids": [b["prompt_ids"] for b in batch]}, padding_side="left",
                               return_tensors="pt")
        frames = pad_sequence([b["features"] for b in batch], batch_first=True)
        lengths = torch.tensor([len(b["features"]) for b in batch])
        return {"features": frames, "feature_mask": (torch.arange(frames.shape[1]) < lengths[:, None]).long(),
                "prompt_ids": prompt["input_ids"], "prompt_mask": prompt["attention_mask"],
                "decoder_input_ids": dec["input_ids"], "decoder_attention_mask": dec["attention_mask"],
                "labels": dec["labels"]}

    return collate


def side(name: str, steps: int, warmup: int, folder: Path) -> dict:
    """Train one side in this process; its figures and logged losses."""
    import torch

    from benchmarks.peers import plait_side
    from plait.bench.harness import build
    from plait.bench.probe import Probe
    from plait.pipeline import prepare_data

    exp = experiment(steps)
    data = prepare_data(exp, dry_run=False)
    if name == "plait":
        return plait_side(exp, data, warmup)
    from transformers import AutoTokenizer, Seq2SeqTrainer, Seq2SeqTrainingArguments

    from plait.train.loop import make_optimizer

    processor = build(exp, data).processor  # the same ids and frames plait trains on, encoded once
    train_rows = rows(processor, data.splits["train"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = peer_model(exp, folder)
    cfg = exp.train
    args = Seq2SeqTrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=cfg.batch_size, max_steps=steps,
        learning_rate=cfg.lr, lr_scheduler_type="cosine", warmup_steps=cfg.schedule.warmup_steps,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm, logging_steps=cfg.log_every,
        logging_first_step=True, save_strategy="no", report_to="none", seed=exp.seed,
        use_cpu=not torch.cuda.is_available(), disable_tqdm=True, dataloader_num_workers=cfg.num_workers)
    optimizers = (make_optimizer(model, cfg), None) if name == "seq2seq-plait-opt" else (None, None)
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=train_rows, data_collator=collator(tokenizer),
                             processing_class=tokenizer, optimizers=optimizers)
    # the Trainer's decay set (names: no bias, no norm) against plait's (no 1-D tensors): the same parameters?
    decayed = set(trainer.get_decay_parameter_names(model))  # also names tied aliases; the optimizer sees one
    same_decay = all((n in decayed) == (p.ndim >= 2) for n, p in model.named_parameters())
    with Probe(model) as probe:
        trainer.train()
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    inner = getattr(trainer.optimizer, "optimizer", trainer.optimizer)  # accelerate wraps it
    kind = f"{type(inner).__name__}(fused={inner.param_groups[0].get('fused')})"
    return {**probe.summary(warmup), "losses": losses, "optimizer": kind, "same_decay_groups": same_decay}
