"""Set-ups of the bad-input table's rows for the flamingo, git, adapter and text families, the ScienceQA, GLUE,
text and CC-3M sources, data.mix, train.sparsity, train.distill and `plait glue` (tests/bad_inputs.py).

Each returns a set-up: a function of the case's Ctx that writes its files and returns the `plait` arguments.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.tiny_families import FLAMINGO, GIT

if TYPE_CHECKING:
    from tests.bad_inputs import Ctx

Setup = Callable[["Ctx"], list[str]]

ADAPTER = {
    "family": "adapter",
    "vision": {"config": {"model_type": "clip_vision_model", "image_size": 16, "patch_size": 8, "hidden_size": 32,
                          "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 2},
               "every": 2, "hidden": 16},
    "language": {"config": {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
                            "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 128}},
    "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}},
    "adapter": {"dim": 8, "temperature": 10.0, "dropout": 0.0},
}
BERT = {"model_type": "bert", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 32, "max_position_embeddings": 64}
GPT2 = {"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 128}
LLAMA = {"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 32}
TEXT = {"family": "text", "task": "masked_lm", "config": BERT,
        "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}}, "max_length": 32}
TEXT_DATA = {"kind": "builtin_text", "sentences": 60, "block_size": 16}
TEXT_EVAL = {"task": "perplexity", "splits": ["validation"]}


def changed(base: dict[str, Any], **updates: Any) -> dict[str, Any]:
    """A deep copy of `base` with dotted-key updates (a value None deletes the key)."""
    out = copy.deepcopy(base)
    for key, value in updates.items():
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return out


def family(command: str, model: dict[str, Any], **updates: Any) -> Setup:
    """`plait <command>` of the tiny experiment with this model section (and experiment-level dotted updates)."""
    def setup(c: "Ctx") -> list[str]:
        return [command, str(c.experiment(model=copy.deepcopy(model), **updates)), *_no_progress(command)]
    return setup


def text(command: str, model: dict[str, Any] | None = None, **updates: Any) -> Setup:
    """`plait <command>` of a tiny text-family experiment (masked-LM BERT on the built-in text corpus)."""
    base = {"model": copy.deepcopy(model or TEXT), "data.source": TEXT_DATA, "eval": TEXT_EVAL}
    return family_with(command, {**base, **updates})


def family_with(command: str, updates: dict[str, Any]) -> Setup:
    def setup(c: "Ctx") -> list[str]:
        resolved = {k: v(c) if callable(v) else copy.deepcopy(v) for k, v in updates.items()}
        return [command, str(c.experiment(**resolved)), *_no_progress(command)]
    return setup


def _no_progress(command: str) -> list[str]:
    return ["--no-progress"] if command == "run" else []


# ScienceQA folders ------------------------------------------------------------------------------------------

PROBLEM = {"question": "Which is a color?", "choices": ["red", "dog"], "answer": 0, "hint": "", "image": None,
           "lecture": "", "solution": "", "split": "train"}


def scienceqa(command: str, problems: str | None = None, pid_splits: str | None = None, **source: Any) -> Setup:
    """A ScienceQA folder with these problems.json / pid_splits.json texts (None: a small valid one)."""
    def setup(c: "Ctx") -> list[str]:
        root = c.folder / "sqa"
        root.mkdir()
        valid = {str(i): PROBLEM for i in range(8)}
        (root / "problems.json").write_text(json.dumps(valid) if problems is None else problems)
        splits = {"train": list(valid)[:6], "val": list(valid)[6:], "test": list(valid)[6:]}
        (root / "pid_splits.json").write_text(json.dumps(splits) if pid_splits is None else pid_splits)
        src = {"kind": "scienceqa", "root": str(root), **source}
        return [command, str(c.experiment(**{"data.source": src, "eval.metrics": ["exact_match"]})),
                *_no_progress(command)]
    return setup


# text corpora ------------------------------------------------------------------------------------------------

def text_files(command: str, train: bytes | None, **source: Any) -> Setup:
    """A `kind: text` source over one training file with these bytes (None: the file does not exist)."""
    def setup(c: "Ctx") -> list[str]:
        path = c.folder / "corpus.train"
        if train is not None:
            path.write_bytes(train)
        (c.folder / "corpus.dev").write_text("the cat sat on the mat\n" * 4)
        src = {"kind": "text", "train": [str(path)], "validation": [str(c.folder / "corpus.dev")], **source}
        return text(command, **{"data.source": src})(c)
    return setup


def cc3m(command: str, captions: bytes, report: bytes) -> Setup:
    """A `kind: cc3m` source over these caption and report TSVs."""
    def setup(c: "Ctx") -> list[str]:
        (c.folder / "captions.tsv").write_bytes(captions)
        (c.folder / "report.tsv").write_bytes(report)
        src = {"kind": "cc3m", "train": {"captions": str(c.folder / "captions.tsv"),
                                         "report": str(c.folder / "report.tsv")}}
        return [command, str(c.experiment(**{"data.source": src, "data.validation_from_train": 0.5,
                                             "eval.splits": ["validation"], "eval.metrics": ["bleu"]})),
                *_no_progress(command)]
    return setup


# data.mix ----------------------------------------------------------------------------------------------------

SHAPES = {"kind": "builtin", "name": "shapes", "task": "qa", "train_size": 16, "validation_size": 8,
          "test_size": 8, "image_size": 16}


def mix(command: str, second: dict[str, Any] | Callable[["Ctx"], dict[str, Any]] | None = None,
        **mix_keys: Any) -> Setup:
    """A data.mix of the shapes source and `second` (default: the built-in text corpus)."""
    def setup(c: "Ctx") -> list[str]:
        other = second(c) if callable(second) else (second or {"kind": "builtin_text", "sentences": 40,
                                                               "block_size": 8})
        sources = [{"name": "images", "source": SHAPES}, {"name": "text", "source": other}]
        exp = c.experiment(data={"mix": {"sources": sources, **mix_keys}})
        return [command, str(exp), *_no_progress(command)]
    return setup


# train.distill / plait glue ------------------------------------------------------------------------------------

def yaml_file(c: "Ctx", name: str, data: dict[str, Any]) -> Path:
    path = c.folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def glue_suite(c: "Ctx", **keys: Any) -> Path:
    """A tiny GLUE suite file (one task, one run, the built-in data at its smallest)."""
    suite = {"name": "g", "output_dir": str(c.folder / "runs"), "builtin": {"train_size": 10, "validation_size": 10},
             "experiment": {"train": {"max_steps": 1, "batch_size": 4}}, "tasks": {"rte": {"runs": 1}}, **keys}
    return yaml_file(c, "suite.yaml", suite)


def with_teacher(command: str, model: dict[str, Any] | None = None, **updates: Any) -> Setup:
    """The tiny experiment (or one with this model) distilled from the copy of the tiny trained run."""
    def setup(c: "Ctx") -> list[str]:
        keys = {**({"model": model} if model else {}), "train.distill": {"teacher": str(c.run)}, **updates}
        return family_with(command, keys)(c)
    return setup


def text_with_teacher(c: "Ctx") -> list[str]:
    """A text-family student whose teacher is the tiny (projector) trained run."""
    return text("run", **{"train.distill": {"teacher": str(c.run)}})(c)


def teacher_at(name: str, make_folder: bool = False) -> Setup:
    """The tiny experiment distilled from `name` under the case folder (made empty with make_folder)."""
    def setup(c: "Ctx") -> list[str]:
        if make_folder:
            (c.folder / name).mkdir()
        return family_with("run", {"train.distill": {"teacher": str(c.folder / name)}})(c)
    return setup


def glue_from(where: Callable[["Ctx"], str], **suite: Any) -> Setup:
    """`plait glue` of a tiny suite from `where(ctx)`."""
    def setup(c: "Ctx") -> list[str]:
        return ["glue", str(glue_suite(c, **suite)), "--from", where(c)]
    return setup


def killed_run(c: "Ctx") -> list[str]:
    """`plait glue --from` a run killed mid-way: status still `running` (a dead pid), no saved model."""
    import shutil

    shutil.rmtree(c.run / "model")
    status = json.loads((c.run / "status.json").read_text())
    (c.run / "status.json").write_text(json.dumps({**status, "state": "running", "pid": 2**22 + 1}))
    return ["glue", str(glue_suite(c)), "--from", str(c.run)]


def mix_of(*sources: dict[str, Any], command: str = "validate") -> Setup:
    """The tiny experiment on a data.mix of these {name, source, weight} entries."""
    def setup(c: "Ctx") -> list[str]:
        return [command, str(c.experiment(data={"mix": {"sources": list(sources)}}))]
    return setup
