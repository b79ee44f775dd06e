"""Nine synthetic GLUE-like tasks, each with a rule a tiny model learns, written in nyu-mll/glue's hub layout
(README.md declaring the configs, `<task>/<split>-00000-of-00001.parquet`, `idx` column, test labels -1).

The rules are simple on purpose: in the pair tasks the first text has a fixed form and the label follows from
words of the second (a noun domain, a negation, a place), so a 2-layer BERT learns each in a minute on a CPU.
They exercise the pipeline and the table; they do not measure language understanding. Each maker's docstring
states its rule."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

import yaml

from plait.data.builtin.common import generated_once
from plait.data.builtin.text_corpus import (ANIMALS, NEGATIVE, PEOPLE, PLACES, POSITIVE, VERBS, Clause, clause,
                                             paraphrase)

Row = dict[str, Any]

LABELS = {
    "cola": ["unacceptable", "acceptable"], "sst2": ["negative", "positive"],
    "mrpc": ["not_equivalent", "equivalent"], "qqp": ["not_duplicate", "duplicate"], "stsb": None,
    "mnli": ["entailment", "neutral", "contradiction"], "qnli": ["entailment", "not_entailment"],
    "rte": ["entailment", "not_entailment"], "wnli": ["not_entailment", "entailment"],
}
COLUMNS = {"cola": ("sentence",), "sst2": ("sentence",), "mrpc": ("sentence1", "sentence2"),
           "qqp": ("question1", "question2"), "stsb": ("sentence1", "sentence2"), "mnli": ("premise", "hypothesis"),
           "qnli": ("question", "sentence"), "rte": ("sentence1", "sentence2"), "wnli": ("sentence1", "sentence2")}
NOUNS = ANIMALS + PEOPLE


def _cola(rng: random.Random, nouns: list[str]) -> tuple[tuple[str, ...], Any]:
    words = clause(rng, nouns).text().split()
    if rng.random() < 0.5:
        return (" ".join(words),), 1
    i = rng.randrange(len(words) - 1)  # a swap of two neighbours breaks the word order
    while words[i] == words[i + 1]:
        i = rng.randrange(len(words) - 1)
    words[i], words[i + 1] = words[i + 1], words[i]
    return (" ".join(words),), 0


def _sst2(rng: random.Random, nouns: list[str]) -> tuple[tuple[str, ...], Any]:
    label = rng.random() < 0.5
    c = clause(rng, nouns)
    c = Clause(rng.choice(POSITIVE if label else NEGATIVE), c.noun1, c.verb, c.adj2, c.noun2, c.place)
    return (c.text(),), int(label)


def _mrpc(rng: random.Random, nouns: list[str]) -> tuple[tuple[str, ...], Any]:
    """About animals; equivalent: a paraphrase; not: the paraphrase with both nouns turned into people."""
    c = clause(rng, ANIMALS)
    label = rng.random() < 0.5
    other = c if label else Clause(c.adj1, rng.choice(PEOPLE), c.verb, c.adj2, rng.choice(PEOPLE), c.place)
    return (c.text(), paraphrase(other.text())), int(label)


def _qqp(rng: random.Random, nouns: list[str]) -> tuple[tuple[str, ...], Any]:
    """About people; duplicate: the question reworded; not: a question about animals."""
    c = clause(rng, PEOPLE, place=False)
    label = rng.random() < 0.5
    d = c if label else clause(rng, ANIMALS, place=False)
    q1 = f"does the {c.noun1} {VERBS[c.verb]} the {c.noun2} ?"
    q2 = paraphrase(f"does the {d.adj1} {d.noun1} {VERBS[d.verb]} the {d.noun2} ?")
    return (q1, q2), int(label)


def _stsb(rng: random.Random, nouns: list[str]) -> tuple[tuple[str, ...], Any]:
    """About animals; score 5 - 2.5 x (nouns of the second text turned into people), plus a little noise."""
    c = clause(rng, ANIMALS, place=False)
    moved = rng.randrange(3)
    people = rng.sample(PEOPLE, 2)
    d = Clause(c.adj1, people[0] if moved >= 1 else c.noun1, c.verb, c.adj2, people[1] if moved == 2 else c.noun2)
    score = 5.0 - 2.5 * moved + rng.uniform(-0.3, 0.3)
    return (c.text(), paraphrase(d.text())), round(max(0.0, min(5.0, score)), 3)


def _nli(rng: random.Random, nouns: list[str], classes: int) -> tuple[tuple[str, ...], Any]:
    """Entailment: the premise without adjectives; contradiction: negated; neutral (MNLI): with a place the
    premise does not mention. RTE's not_entailment is the negation."""
    c = clause(rng, nouns, place=False)
    kind = rng.randrange(classes)
    if kind == 0:
        hypothesis = f"the {c.noun1} {c.verb} the {c.noun2}"
    elif kind == 2 or classes == 2:
        hypothesis = f"the {c.noun1} does not {VERBS[c.verb]} the {c.noun2}"
    else:
        hypothesis = f"the {c.noun1} {c.verb} the {c.noun2} {rng.choice(PLACES)}"
    return (c.text(), hypothesis), min(kind, classes - 1)


def _qnli(rng: random.Random, nouns: list[str]) -> tuple[tuple[str, ...], Any]:
    """A question about an animal; entailment: the sentence is about that animal; not: about people."""
    c = clause(rng, ANIMALS)
    answers = rng.random() < 0.5
    d = c if answers else clause(rng, PEOPLE)
    return (f"what does the {c.noun1} {VERBS[c.verb]} ?", d.text()), 0 if answers else 1


def _wnli(rng: random.Random, nouns: list[str]) -> tuple[tuple[str, ...], Any]:
    """An animal acts on a person; "it" is the animal: naming it is entailed, naming the person is not."""
    subject, obj = rng.choice(ANIMALS), rng.choice(PEOPLE)
    verb, adjective = rng.choice(list(VERBS)), rng.choice(POSITIVE + NEGATIVE)
    label = rng.random() < 0.5
    return (f"the {subject} {verb} the {obj} because it is {adjective}",
            f"the {subject if label else obj} is {adjective}"), int(label)


MAKERS: dict[str, Callable[[random.Random, list[str]], tuple[tuple[str, ...], Any]]] = {
    "cola": _cola, "sst2": _sst2, "mrpc": _mrpc, "qqp": _qqp, "stsb": _stsb,
    "mnli": lambda rng, nouns: _nli(rng, nouns, 3), "qnli": _qnli,
    "rte": lambda rng, nouns: _nli(rng, nouns, 2), "wnli": _wnli,
}


def task_rows(task: str, size: int, rng: random.Random, nouns: list[str], labelled: bool = True) -> list[Row]:
    """`size` rows of the task with GLUE's columns (label -1 when not `labelled`, as in GLUE's test splits)."""
    rows = []
    for idx in range(size):
        texts, label = MAKERS[task](rng, nouns)
        row: Row = dict(zip(COLUMNS[task], texts))
        row["label"] = label if labelled else (-1.0 if task == "stsb" else -1)
        row["idx"] = idx
        rows.append(row)
    return rows


def task_splits(task: str, train: int, validation: int, rng: random.Random) -> dict[str, list[Row]]:
    """GLUE's split names; MNLI's matched sets use animals and people, its mismatched sets people only, which
    train sees only a fifth of the time."""
    if task != "mnli":
        return {"train": task_rows(task, train, rng, NOUNS), "validation": task_rows(task, validation, rng, NOUNS),
                "test": task_rows(task, validation, rng, NOUNS, labelled=False)}
    mixed = [*task_rows(task, train * 4 // 5, rng, ANIMALS), *task_rows(task, train - train * 4 // 5, rng, PEOPLE)]
    rng.shuffle(mixed)
    for idx, row in enumerate(mixed):
        row["idx"] = idx
    return {"train": mixed, "validation_matched": task_rows(task, validation, rng, ANIMALS),
            "validation_mismatched": task_rows(task, validation, rng, PEOPLE),
            "test_matched": task_rows(task, validation, rng, ANIMALS, labelled=False),
            "test_mismatched": task_rows(task, validation, rng, PEOPLE, labelled=False)}


def features(task: str) -> Any:
    """The task's datasets Features (class labels by name, as on the hub)."""
    import datasets

    columns = {c: datasets.Value("string") for c in COLUMNS[task]}
    label = datasets.Value("float32") if LABELS[task] is None else datasets.ClassLabel(names=LABELS[task])
    return datasets.Features({**columns, "label": label, "idx": datasets.Value("int32")})


def _card(configs: dict[str, list[str]]) -> str:
    """A dataset card whose YAML header declares each config's parquet files per split, as the hub's does."""
    header = {"configs": [{"config_name": task, "data_files": [
        {"split": split, "path": f"{task}/{split}-*"} for split in splits]} for task, splits in configs.items()]}
    return f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n# Synthetic GLUE-like tasks (plait built-in)\n"


def generate_glue(train_size: int, validation_size: int, seed: int, tasks: tuple[str, ...] = tuple(MAKERS)) -> Path:
    """The folder, generated once per setting: load it with datasets.load_dataset(folder, task)."""
    import datasets

    params = {"train": train_size, "validation": validation_size, "seed": seed, "tasks": list(tasks), "version": 3}
    with generated_once("glue", params) as (folder, tmp):
        if tmp is not None:
            configs = {}
            for offset, task in enumerate(tasks):
                rng = random.Random(seed * 1009 + offset)
                splits = task_splits(task, train_size, validation_size, rng)
                (tmp / task).mkdir()
                for split, rows in splits.items():
                    table = datasets.Dataset.from_list(rows, features=features(task))
                    table.to_parquet(str(tmp / task / f"{split}-00000-of-00001.parquet"))
                configs[task] = list(splits)
            (tmp / "README.md").write_text(_card(configs))
    return folder
