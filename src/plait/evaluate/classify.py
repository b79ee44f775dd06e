"""Evaluation task `classify`: a sequence classifier's labels (or scores) against the targets, scored with
scikit-learn (accuracy, F1, Matthews correlation) and scipy (Pearson, Spearman), as GLUE reports them."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from scipy import stats
from sklearn import metrics as skm
from tqdm.auto import tqdm

from plait.data.sample import Sample
from plait.errors import UserError
from plait.evaluate.generate import model_device
from plait.models.text.processor import is_labelled

SIGNATURES = {
    "accuracy": "accuracy|sklearn.metrics.accuracy_score|x100",
    "f1": "f1|sklearn.metrics.f1_score|binary: positive = class 1 (GLUE); 3+ classes: macro; multi-label: micro|x100",
    "matthews_correlation": "matthews_correlation|sklearn.metrics.matthews_corrcoef|x100",
    "pearson": "pearson|scipy.stats.pearsonr|x100",
    "spearmanr": "spearmanr|scipy.stats.spearmanr|x100",
}


def classification_scores(names: list[str], truth: np.ndarray, pred: np.ndarray, problem: str,
                          num_classes: int) -> dict[str, float]:
    """The named metrics x100: class ids (single_label), 0/1 matrices (multi_label) or scores (regression)."""
    regression = problem == "regression"
    out = {}
    for name in names:
        if (name in ("pearson", "spearmanr")) != regression:
            valid = "pearson, spearmanr" if regression else "accuracy, f1, matthews_correlation"
            raise UserError(f"eval.metrics: {name} does not apply to a {problem} model; valid: {valid}")
        if len(truth) == 0:
            out[name] = float("nan")
        elif name == "accuracy":
            out[name] = skm.accuracy_score(truth, pred)
        elif name == "f1":
            if problem == "multi_label":
                out[name] = skm.f1_score(truth, pred, average="micro", zero_division=0)
            elif num_classes == 2:
                out[name] = skm.f1_score(truth, pred, pos_label=1, average="binary", zero_division=0)
            else:
                out[name] = skm.f1_score(truth, pred, average="macro", labels=list(range(num_classes)),
                                         zero_division=0)
        elif name == "matthews_correlation":
            if problem == "multi_label":
                raise UserError("eval.metrics: matthews_correlation needs one label per sample, not multi_label")
            out[name] = skm.matthews_corrcoef(truth, pred)
        elif name == "pearson":
            out[name] = float(stats.pearsonr(truth, pred)[0])
        else:
            out[name] = float(stats.spearmanr(truth, pred)[0])
    return {k: 100.0 * float(v) for k, v in out.items()}


@torch.no_grad()
def predict_outputs(model: torch.nn.Module, processor: Any, samples: list[Sample], batch_size: int,
                    progress: bool) -> torch.Tensor:
    """The classifier's logits (or scores) for every sample, in order."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    outputs = []
    try:
        bar = tqdm(total=len(samples), desc="classify", unit="sample", disable=not progress, leave=False)
        for start in range(0, len(samples), batch_size):
            batch = processor.collate(processor.encode_train_many(samples[start:start + batch_size]))
            batch.pop("labels", None)
            outputs.append(model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu())
            bar.update(min(batch_size, len(samples) - start))
        bar.close()
    finally:
        model.train(was_training)
    return torch.cat(outputs) if outputs else torch.zeros(0, 1)


def classify(built: Any, samples: list[Sample], cfg: Any, max_new_tokens: int = 0,
             progress: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Metrics over the labelled samples; a prediction (label names, or the score) for every sample."""
    start = time.perf_counter()
    processor = built.processor
    settings = processor.settings
    if settings.task != "classification":
        raise UserError(f"eval.task: classify needs a model.task classification model, not {settings.task}")
    logits = predict_outputs(built.model, processor, samples, cfg.batch_size, progress)
    labels = list(settings.labels)
    if settings.problem == "regression":
        pred = logits[:, 0].numpy()
        shown = [f"{v:.4f}" for v in pred]
    elif settings.problem == "multi_label":
        pred = (logits > 0).int().numpy()
        shown = [",".join(n for n, on in zip(labels, row) if on) for row in pred]
    else:
        pred = logits.argmax(-1).numpy()
        shown = [labels[i] for i in pred]
    labelled = [i for i, s in enumerate(samples) if is_labelled(s)]
    # a single label the model has no class for (seen in no training sample, not in model.labels) cannot be
    # scored against the model's classes: left out and counted, as unlabelled rows are
    known = set(labels) if settings.problem == "single_label" else None
    keep = [i for i in labelled if known is None or samples[i].target in known]
    left_out = {"no label": len(samples) - len(labelled), "label unknown to the model": len(labelled) - len(keep)}
    truth = np.array([processor.label_value(samples[i]) for i in keep])
    values = classification_scores(list(cfg.metrics), truth, pred[keep], settings.problem, len(labels))
    result = {"values": values, "signatures": {k: SIGNATURES[k] for k in values},
              "coverage": {"evaluated": len(keep), "left_out": {k: n for k, n in left_out.items() if n},
                           "truncated": sum(processor.truncated(samples[i]) for i in keep)},
              "seconds": round(time.perf_counter() - start, 3)}
    if any(math.isnan(v) for v in values.values()):
        result["note"] = ("no sample has a label the model knows (its labels are those of the training split or "
                          "model.labels)" if left_out["label unknown to the model"]
                          else "no labelled samples: GLUE-style test splits hide their labels")
    return result, shown
