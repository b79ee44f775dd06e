"""ScienceQA as lupantech/ScienceQA ships it: problems.json, pid_splits.json, images/<split>/<qid>/image.png,
optional captions.json; prompts and targets in LaVIN's formats (util/base_prompt.py create_training_example).

Torch-free: data/config.py imports the source's config from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from plait.core.strict import Strict
from plait.core.fields import FilePath
from plait.data.sample import Sample
from plait.data.sources.manifest import MISSING as UNUSABLE
from plait.errors import UserError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
INPUTS = {
    "CQM": "Context: {context}\nQuestion: {question}\nOptions: {choices}\n",
    "QCM": "Question: {question}\nContext: {context}\nOptions: {choices}\n",
    "QCML": "Question: {question}\nContext: {context}\nOptions: {choices}\nBECAUSE: {lecture}\n",
    "QCME": "Question: {question}\nContext: {context}\nOptions: {choices}\nBECAUSE: {solution}\n",
    "QCMLE": "Question: {question}\nContext: {context}\nOptions: {choices}\nBECAUSE: {lecture} {solution}\n",
    "QCLM": "Question: {question}\nContext: {context}\nBECAUSE: {lecture}\nOptions: {choices}\n",
    "QCEM": "Question: {question}\nContext: {context}\nBECAUSE: {solution}\nOptions: {choices}\n",
    "QCLEM": "Question: {question}\nContext: {context}\nBECAUSE: {lecture} {solution}\nOptions: {choices}\n",
}
# LaVIN's names: AL gives the solution and AE the lecture (kept as LaVIN spells them)
OUTPUTS = {
    "A": "The answer is {answer}.",
    "AL": "The answer is {answer}. BECAUSE: {solution}",
    "AE": "The answer is {answer}. BECAUSE: {lecture}",
    "ALE": "The answer is {answer}. BECAUSE: {lecture} {solution}",
    "AEL": "The answer is {answer}. BECAUSE: {solution} {lecture}",
    "LA": "{lecture} The answer is {answer}.",
    "EA": "{solution} The answer is {answer}.",
    "LEA": "{lecture} {solution} The answer is {answer}.",
    "ELA": "{solution} {lecture} The answer is {answer}.",
}
FIELDS = ("subject", "topic", "category", "skill", "grade", "task", "hint", "image", "split")
"""Problem fields kept in each sample's meta["fields"], for per-category scoring."""


class SyntheticScienceQA(Strict):
    """plait's built-in ScienceQA-format set (see plait.data.builtin.scienceqa), generated offline on first use."""

    train_size: int = Field(1200, ge=1)
    """Training problems."""
    validation_size: int = Field(100, ge=1)
    """Validation problems."""
    test_size: int = Field(300, ge=1)
    """Test problems."""
    image_size: int = Field(32, ge=8, le=512)
    """Side of the pictures in pixels."""
    seed: int = 1234
    """Seed of the generator (independent of the experiment seed, so data stay fixed)."""


class ScienceQASource(Strict):
    """ScienceQA's files as they are (lupantech/ScienceQA data/scienceqa), prompts in LaVIN's formats."""

    kind: Literal["scienceqa"] = "scienceqa"
    """Source kind (the discriminator)."""
    root: FilePath | None = None
    """Folder holding problems.json, pid_splits.json and images/<split>/<qid>/image.png (captions.json optional)."""
    builtin: SyntheticScienceQA | None = None
    """Use plait's synthetic ScienceQA-format set instead of `root`."""
    prompt_format: str = "QCM-ALE"
    """INPUT-OUTPUT as in LaVIN: input CQM, QCM, QCML, QCME, QCMLE, QCLM, QCEM or QCLEM (Q question, C context,
    M options, L lecture, E solution); output A, AL, AE, ALE, AEL, LA, EA, LEA or ELA."""
    train: str = "train"
    """pid_splits.json list used for training (e.g. train, trainval, minitrain)."""
    validation: str | None = "val"
    """List used for validation (None = none)."""
    test: str | None = "test"
    """List used for testing (None = none)."""
    use_caption: bool = False
    """Append the image's caption from captions.json to the context (LaVIN's --use_caption)."""
    images_only: bool = False
    """Keep only problems with an image (ScienceQA's IMG subset)."""
    max_choices: int = Field(len(LETTERS), ge=2, le=len(LETTERS))
    """Problems with more choices than this are an error (letters A.. label them)."""

    @model_validator(mode="after")
    def _one_source(self) -> "ScienceQASource":
        if (self.root is None) == (self.builtin is None):
            raise ValueError("set exactly one of `root` (a ScienceQA folder) or `builtin` (the synthetic set, e.g. {})")
        return self

    @field_validator("prompt_format")
    @classmethod
    def _format(cls, value: str) -> str:
        given, _, output = value.partition("-")
        if given not in INPUTS or output not in OUTPUTS:
            raise ValueError(f"{value!r} is not INPUT-OUTPUT with INPUT one of {', '.join(INPUTS)} and OUTPUT one of "
                             f"{', '.join(OUTPUTS)} (e.g. QCM-ALE)")
        return value


def build_prompt(problem: dict[str, Any], prompt_format: str, caption: str = "") -> tuple[str, str]:
    """(prompt, target) of one problem, as LaVIN's create_training_example writes them.

    LaVIN's quirks kept: lecture and solution newlines become a literal backslash-n; one pass of double-space
    removal; a target whose explanation is empty still ends in "BECAUSE:" (LaVIN's clean-up assigns to an unused
    variable, so it never applies).
    """
    given, output = prompt_format.split("-")
    context = " ".join([problem.get("hint") or "", caption]).strip() or "N/A"
    values = {
        "question": problem["question"], "context": context,
        "choices": " ".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(problem["choices"])),
        "answer": LETTERS[problem["answer"]],
        "lecture": (problem.get("lecture") or "").replace("\n", "\\n"),
        "solution": (problem.get("solution") or "").replace("\n", "\\n"),
    }
    prompt = "\n" + INPUTS[given].format(**values) + "Response:"
    target = OUTPUTS[output].format(**values)
    return prompt.replace("  ", " ").strip(), target.replace("  ", " ").strip()


def _read_json(path: Path, holds: str) -> dict[str, Any]:
    """A JSON object file of ScienceQA's; `holds` says what its keys map to (for the error line)."""
    if not path.is_file():
        raise UserError(f"{path}: not found (data.source.root must hold ScienceQA's problems.json and pid_splits.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object mapping {holds}, got a {type(data).__name__}")
    return data


def _problem_error(path: Path, qid: str, problem: Any, max_choices: int) -> str | None:
    if not isinstance(problem, dict):
        return "is not an object"
    for name in ("question", "choices", "answer"):
        if name not in problem:
            return f"has no `{name}`"
    choices, answer = problem["choices"], problem["answer"]
    if not isinstance(choices, list) or not 2 <= len(choices) <= max_choices:
        return f"`choices` must be a list of 2 to {max_choices} options"
    if not isinstance(answer, int) or not 0 <= answer < len(choices):
        return f"`answer` {answer!r} is not an index into its {len(choices)} choices"
    return None


def read_scienceqa(source: ScienceQASource) -> dict[str, list[Sample]]:
    """Samples per plait split (train, validation, test) from the pid_splits lists the source names."""
    root = source.root
    if source.builtin is not None:
        from plait.data.builtin.scienceqa import generate_scienceqa

        b = source.builtin
        root = generate_scienceqa(b.train_size, b.validation_size, b.test_size, b.image_size, b.seed)
    problems = _read_json(root / "problems.json", "problem ids to problems")
    pid_splits = _read_json(root / "pid_splits.json", "split names to lists of problem ids")
    captions: dict[str, str] = {}
    if source.use_caption:
        captions = _read_json(root / "captions.json", "`captions` to {problem id: caption}").get("captions", {})
        if not isinstance(captions, dict):
            raise UserError(f"{root / 'captions.json'}: `captions` must map problem ids to captions")
    out = {}
    for split, name in (("train", source.train), ("validation", source.validation), ("test", source.test)):
        if name is None:
            continue
        if name not in pid_splits:
            raise UserError(f"data.source.{split}: {name!r} is not a list in {root / 'pid_splits.json'} "
                            f"(lists: {', '.join(pid_splits)})")
        if not isinstance(pid_splits[name], list):
            raise UserError(f"{root / 'pid_splits.json'}: `{name}` (data.source.{split}) must be a list of problem "
                            f"ids, got {json.dumps(pid_splits[name])[:40]}")
        samples = []
        for qid in pid_splits[name]:
            qid = str(qid)
            problem = problems.get(qid)
            error = ("not in problems.json" if problem is None
                     else _problem_error(root, qid, problem, source.max_choices))
            if error:  # skipped and counted by screening (data.max_bad_fraction), as a bad manifest row is
                samples.append(Sample(id=qid, prompt="", target="", meta={UNUSABLE: f"problem {error}"}))
                continue
            if source.images_only and not problem.get("image"):
                continue
            samples.append(to_sample(root, qid, problem, source.prompt_format, captions.get(qid, "")))
        out[split] = samples
    return out


def to_sample(root: Path, qid: str, problem: dict[str, Any], prompt_format: str, caption: str = "") -> Sample:
    """One problem as a sample: LaVIN's prompt and target, its image (if any), choices and fields in meta."""
    prompt, target = build_prompt(problem, prompt_format, caption)
    image = problem.get("image")
    media = root / "images" / str(problem.get("split", "train")) / qid / str(image) if image else None
    meta = {"choices": list(problem["choices"]), "answer": int(problem["answer"]),
            "fields": {k: problem.get(k) for k in FIELDS}}
    return Sample(id=qid, prompt=prompt, target=target, media=media, meta=meta)
