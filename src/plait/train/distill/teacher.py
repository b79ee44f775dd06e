"""The teacher: loaded from a plait run or a transformers checkpoint, frozen, its tokenizer checked against the
student's; and how a model's logits line up with its labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.models.auto import modeling_auto as auto

from plait.errors import UserError

FIELD = "train.distill.teacher"

# (names of the model classes transformers maps for a task, the Auto class that loads that task's head, shift)
HEADS = (
    (auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, "AutoModelForCausalLM", 1),
    (auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES, "AutoModelForMaskedLM", 0),
    (auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES, "AutoModelForSeq2SeqLM", 0),
    (auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES, "AutoModelForSequenceClassification", 0),
    (auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES, "AutoModelForTokenClassification", 0),
)


def _head(model: nn.Module) -> tuple[str, int] | None:
    name = type(model).__name__
    for names, auto_class, shift in HEADS:
        if name in names.values():
            return auto_class, shift
    return None


def label_shift(model: nn.Module) -> int:
    """How far the labels run ahead of the logits: logits[:, t] scores labels[:, t + shift]. plait's families
    declare it (`label_shift`); a transformers model's follows from its head (causal LMs shift inside)."""
    declared = getattr(model, "label_shift", None)
    if declared is not None:
        return int(declared)
    head = _head(model)
    if head is None:
        raise UserError(f"train.distill: cannot tell how {type(model).__name__}'s logits line up with its labels "
                        "(no label_shift attribute, and not a transformers task head)")
    return head[1]


def _vocab(tokenizer: Any) -> dict[str, int]:
    return dict(tokenizer.get_vocab())


def check_tokenizers(teacher: Any, student: Any, where: str) -> None:
    """The teacher must give every token the student's id (its distributions are over the same vocabulary)."""
    ours, theirs = _vocab(student), _vocab(teacher)
    if ours == theirs:
        return
    other = sorted(t for t in set(ours) | set(theirs) if ours.get(t) != theirs.get(t))
    raise UserError(f"{FIELD}: {where}'s tokenizer differs from the student's in {len(other)} token(s) "
                    f"(e.g. {other[:3]}); the teacher must use the same token ids")


def _plait_folder(path: Path) -> Path | None:
    for folder in (path / "model", path):
        if (folder / "plait_model.json").exists():
            return folder
    return None


def load_teacher(spec: str, student: nn.Module, student_tokenizer: Any) -> nn.Module:
    """The frozen teacher named by `spec` for `student`."""
    path = Path(spec)
    folder = _plait_folder(path) if path.is_dir() else None
    if folder is not None:
        from plait.models.family import get_family

        family = json.loads((folder / "plait_model.json").read_text()).get("family")
        built = get_family(family).load(folder)
        if type(built.model) is not type(student):
            raise UserError(f"{FIELD}: {spec} holds a {family} model ({type(built.model).__name__}), the student is "
                            f"a {type(student).__name__}; a teacher reads the student's batches, so it must be of "
                            "the same family")
        check_tokenizers(built.processor.tokenizer, student_tokenizer, spec)
        teacher = built.model
    else:
        teacher = _transformers_teacher(spec, student, student_tokenizer)
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


def _transformers_teacher(spec: str, student: nn.Module, student_tokenizer: Any) -> nn.Module:
    import transformers

    head = _head(student) if isinstance(student, PreTrainedModel) else None
    if head is None:
        raise UserError(f"{FIELD}: {spec} is not a plait run or saved model (no model/plait_model.json); a "
                        f"transformers checkpoint can teach only a transformers model, not {type(student).__name__}")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(spec)
        teacher = getattr(transformers, head[0]).from_pretrained(spec, dtype=torch.float32)
    except OSError as err:
        raise UserError(f"{FIELD}: cannot load {spec!r} as a transformers checkpoint: {str(err).splitlines()[0]}")
    check_tokenizers(tokenizer, student_tokenizer, spec)
    return teacher
