"""train.distill: the KD loss equals a hand formula on fixed logits; positions, schedules, teacher checks."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from plait.errors import UserError
from plait.train.distill.config import DistillConfig, LinearDecay, value_at
from plait.train.distill.loss import mixed_loss, soft_loss, target_positions
from plait.train.distill.teacher import label_shift, load_teacher


def softmax(xs, t):
    e = [math.exp(x / t) for x in xs]
    return [v / sum(e) for v in e]


def test_soft_loss_equals_the_hand_formula():
    student = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    teacher = [[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
    t = 2.0
    kl = ce = 0.0
    for s_row, t_row in zip(student, teacher):
        p, q = softmax(t_row, t), softmax(s_row, t)
        kl += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))
        ce += -sum(pi * math.log(qi) for pi, qi in zip(p, q))
    s, te = torch.tensor(student), torch.tensor(teacher)
    assert soft_loss(s, te, t, "kl").item() == pytest.approx(t * t * kl, rel=1e-6)
    assert soft_loss(s, te, t, "soft_ce").item() == pytest.approx(t * t * ce, rel=1e-6)
    assert soft_loss(te, te, t, "kl").item() == pytest.approx(0.0, abs=1e-6)


def test_mixed_loss_for_a_causal_lm_counts_the_shifted_target_positions():
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 4, 5), torch.randn(2, 4, 5)
    labels = torch.tensor([[-100, -100, 3, 1], [-100, 2, -100, -100]])
    hard = torch.tensor(1.7)
    # logits[:, t] scores labels[:, t + 1]: the positions (0, 1), (0, 2), (1, 0)
    rows = [(0, 1), (0, 2), (1, 0)]
    t, k = 3.0, 0.25
    soft = sum(soft_loss(student[b, i][None], teacher[b, i][None], t, "kl") for b, i in rows)
    got = mixed_loss(hard, student, teacher, labels, 1, t, k, "kl", None)
    assert got.item() == pytest.approx((1 - k) * 1.7 + k * soft.item() / 3, rel=1e-6)
    # given the Trainer's count (the target tokens of the whole accumulated, global batch), divided by it instead
    got = mixed_loss(hard, student, teacher, labels, 1, t, k, "kl", torch.tensor(12))
    assert got.item() == pytest.approx((1 - k) * 1.7 + k * soft.item() / 12, rel=1e-6)


def test_positions_for_masked_lm_seq2seq_and_classification():
    logits = torch.arange(2 * 3 * 2, dtype=torch.float).view(2, 3, 2)
    labels = torch.tensor([[-100, 4, -100], [7, -100, -100]])
    rows, n = target_positions(logits, labels, 0)  # masked LM / seq2seq decoder: no shift
    assert n == 2 and rows.tolist() == [logits[0, 1].tolist(), logits[1, 0].tolist()]
    cls_logits = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows, n = target_positions(cls_logits, torch.tensor([1, -100, 0]), 0)
    assert n == 2 and rows.tolist() == [[1.0, 2.0], [5.0, 6.0]]
    # a classification head's soft loss is its batch's mean, as transformers' hard loss is, whatever the count
    hard = torch.tensor(0.5)
    teacher = torch.zeros(3, 2)
    got = mixed_loss(hard, cls_logits, teacher, torch.tensor([1, -100, 0]), 0, 1.0, 0.5, "kl", torch.tensor(99))
    soft = soft_loss(cls_logits[[0, 2]], teacher[[0, 2]], 1.0, "kl")
    assert got.item() == pytest.approx(0.25 + 0.5 * soft.item() / 2, rel=1e-6)
    with pytest.raises(ValueError, match="multi-label and regression heads are not supported"):
        target_positions(torch.randn(3, 1), torch.tensor([0.5, 0.1, 0.2]), 0)


def test_kd_factor_zero_is_the_hard_loss_and_one_is_the_soft_loss():
    student, teacher = torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    labels = torch.tensor([[1, 2, 3]])
    hard = torch.tensor(0.9)
    assert mixed_loss(hard, student, teacher, labels, 0, 1.0, 0.0, "kl", None).item() == pytest.approx(0.9)
    only_soft = mixed_loss(hard, student, teacher, labels, 0, 1.0, 1.0, "soft_ce", None)
    assert only_soft.item() == pytest.approx(soft_loss(student[0], teacher[0], 1.0, "soft_ce").item() / 3, rel=1e-6)


def test_schedules_and_config_ranges():
    assert value_at(2.0, 50, 100) == 2.0
    assert value_at(LinearDecay(start=4.0, end=1.0), 0, 100) == 4.0
    assert value_at(LinearDecay(start=4.0, end=1.0), 50, 100) == 2.5
    assert value_at(LinearDecay(start=4.0, end=1.0), 100, 100) == 1.0
    cfg = DistillConfig(teacher="runs/x", kd_factor={"start": 1.0, "end": 0.0})
    assert isinstance(cfg.kd_factor, LinearDecay) and cfg.loss == "kl"
    with pytest.raises(ValidationError, match=r"temperature\n.*must be > 0"):
        DistillConfig(teacher="x", temperature={"start": 2.0, "end": 0.0})
    with pytest.raises(ValidationError, match=r"kd_factor\n.*must be in \[0, 1\]"):
        DistillConfig(teacher="x", kd_factor=1.5)
    with pytest.raises(ValidationError, match="loss"):
        DistillConfig(teacher="x", loss="mse")


def test_label_shift_of_transformers_heads_and_plait_families():
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    bert = BertForMaskedLM(BertConfig(vocab_size=20, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                      num_attention_heads=2))
    from plait.models.mapper.model import MapperSeq2Seq
    from plait.models.projector.model import ProjectorVLM

    assert (label_shift(llama), label_shift(bert), ProjectorVLM.label_shift, MapperSeq2Seq.label_shift) == (1, 0, 1, 0)
    with pytest.raises(UserError, match="cannot tell how Linear's logits line up"):
        label_shift(torch.nn.Linear(2, 2))


def tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


def test_transformers_teacher_is_loaded_frozen_and_its_tokenizer_checked(tmp_path):
    cfg = BertConfig(vocab_size=8, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2)
    BertForMaskedLM(cfg).save_pretrained(tmp_path / "teacher")
    tokenizer(["a", "b", "c"]).save_pretrained(tmp_path / "teacher")
    student = BertForMaskedLM(cfg)
    teacher = load_teacher(str(tmp_path / "teacher"), student, tokenizer(["a", "b", "c"]))
    assert isinstance(teacher, BertForMaskedLM) and not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    with pytest.raises(UserError, match=r"train.distill.teacher: .*tokenizer differs from the student's in 2 token"):
        load_teacher(str(tmp_path / "teacher"), student, tokenizer(["a", "c", "b"]))
    with pytest.raises(UserError, match="a transformers checkpoint can teach only a transformers model"):
        load_teacher(str(tmp_path / "teacher"), torch.nn.Linear(2, 2), tokenizer(["a"]))
    with pytest.raises(UserError, match="cannot load 'nowhere/none' as a transformers checkpoint"):
        load_teacher("nowhere/none", student, tokenizer(["a"]))


@pytest.mark.parametrize("family", ["flamingo", "git", "adapter"])
def test_image_family_students_are_distilled_over_their_target_tokens(family, tmp_path):
    """The soft loss of a flamingo, GIT or adapter student is KL over the positions that predict target tokens
    (logits[:, t] against labels[:, t + 1]; GIT's image positions are not among its logits)."""
    from plait.train.distill.config import DistillConfig
    from plait.train.distill.hook import Distiller
    from tests.unit.test_perplexity_families import built_and_samples

    student, samples = built_and_samples(family, tmp_path)
    teacher, _ = built_and_samples(family, tmp_path)  # the same weights under the same seed...
    for p in teacher.model.parameters():  # ...moved, so that it disagrees with the student
        p.data.add_(0.05 * torch.randn_like(p))
    student.model.eval(), teacher.model.eval()
    batch = student.processor.collate([student.processor.encode_train(s) for s in samples])
    distiller = Distiller(DistillConfig(teacher="unused", temperature=1.0, kd_factor=1.0), teacher.model,
                          label_shift(student.model), steps=10, vocab=len(student.processor.tokenizer))
    with torch.no_grad():
        outputs = student.model(**batch)
        got = distiller.loss(outputs.loss, outputs, batch, None, step=0)
        q, p = outputs.logits[:, :-1].float(), teacher.model(**batch).logits[:, :-1].float()
    keep = batch["labels"][:, 1:] != -100
    kl = (p.softmax(-1) * (p.log_softmax(-1) - q.log_softmax(-1))).sum(-1)
    assert keep.sum() > 0 and float(got) == pytest.approx(float(kl[keep].mean()), rel=1e-5)
    assert float(got) > 0
