"""What plait knows about each GLUE task: columns, labels, splits, reporting metrics and default run counts
(torch-free). Reporting metrics and run counts follow Numenta's nupic.research transformers project."""

from __future__ import annotations

from dataclasses import dataclass

from plait.data.text_config import BuiltinGlueSource, HfSource, HfSplits


@dataclass(frozen=True)
class Reported:
    """One number of the table: `metric` of the run's eval/<split>.json, shown as `name`."""

    name: str
    split: str
    metric: str


@dataclass(frozen=True)
class GlueTask:
    """A GLUE task as plait reads and scores it."""

    name: str
    column: str
    """Table column title."""
    prompt: str
    pair: str | None
    labels: tuple[str, ...] | None
    """Class names in GLUE's class-id order (None: regression)."""
    reported: tuple[Reported, ...]
    """In table order; the last one picks the run under the max-over-N rule (Numenta's reporting_metrics[-1])."""
    runs: int
    """Default fine-tuning runs (Numenta's study: 10 for CoLA/RTE/WNLI, 3 for STS-B/MRPC, 1 elsewhere)."""
    validation: str = "validation"
    test: str | None = None
    """Dataset split evaluated as plait's test split (MNLI: validation_mismatched; GLUE's test labels are hidden)."""


def _acc(split: str = "validation", name: str = "acc") -> Reported:
    return Reported(name, split, "accuracy")


TASKS: dict[str, GlueTask] = {t.name: t for t in (
    GlueTask("cola", "CoLA", "sentence", None, ("unacceptable", "acceptable"),
             (Reported("mcc", "validation", "matthews_correlation"),), 10),
    GlueTask("mnli", "MNLI", "premise", "hypothesis", ("entailment", "neutral", "contradiction"),
             (_acc("validation", "m"), _acc("test", "mm")), 1, "validation_matched", "validation_mismatched"),
    GlueTask("mrpc", "MRPC", "sentence1", "sentence2", ("not_equivalent", "equivalent"),
             (Reported("f1", "validation", "f1"), _acc()), 3),
    GlueTask("qnli", "QNLI", "question", "sentence", ("entailment", "not_entailment"), (_acc(),), 1),
    GlueTask("qqp", "QQP", "question1", "question2", ("not_duplicate", "duplicate"),
             (_acc(), Reported("f1", "validation", "f1")), 1),
    GlueTask("rte", "RTE", "sentence1", "sentence2", ("entailment", "not_entailment"), (_acc(),), 10),
    GlueTask("sst2", "SST-2", "sentence", None, ("negative", "positive"), (_acc(),), 1),
    GlueTask("stsb", "STS-B", "sentence1", "sentence2", None,
             (Reported("pearson", "validation", "pearson"), Reported("spearman", "validation", "spearmanr")), 3),
    GlueTask("wnli", "WNLI", "sentence1", "sentence2", ("not_entailment", "entailment"), (_acc(),), 10),
)}
NAMES = tuple(TASKS)


def hf_source(task: str, path: str) -> HfSource:
    """The task read from a GLUE snapshot in the hub layout (nyu-mll/glue) or the cache's copy of it."""
    t = TASKS[task]
    return HfSource(path=path, name=task, prompt_column=t.prompt, pair_column=t.pair, target_column="label",
                    id_column="idx", splits=HfSplits(train="train", validation=t.validation, test=t.test))


def builtin_source(source: BuiltinGlueSource) -> HfSource:
    """The synthetic task, generated once, as an HF source over its hub-layout folder."""
    from plait.data.builtin.glue_tasks import generate_glue

    folder = generate_glue(source.train_size, source.validation_size, source.seed)
    return hf_source(source.task, str(folder))


def model_keys(task: str) -> dict[str, object]:
    """The text model's classification keys for the task (labels in GLUE's order, so F1's positive class is
    class 1 as in GLUE)."""
    t = TASKS[task]
    if t.labels is None:
        return {"task": "classification", "problem": "regression"}
    return {"task": "classification", "problem": "single_label", "labels": list(t.labels)}
