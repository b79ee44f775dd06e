"""The ScienceQA source: LaVIN's prompt formats (golden strings), the files' layout, errors that name the problem."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from plait.data.sources.scienceqa import ScienceQASource, build_prompt, read_scienceqa
from plait.errors import UserError

PROBLEM = {
    "question": "Which figure of speech is used in this text?", "choices": ["simile", "metaphor"], "answer": 1,
    "hint": "Jack's heart was a stone.", "image": None, "task": "closed choice", "grade": "grade7",
    "subject": "language science", "topic": "figurative-language", "category": "Figures of speech",
    "skill": "Similes and metaphors", "split": "train",
    "lecture": "Figures of speech are words or phrases.\nA metaphor compares without like or as.",
    "solution": "The text uses a metaphor.",
}


def test_qcm_ale_golden_string():
    prompt, target = build_prompt(PROBLEM, "QCM-ALE")
    assert prompt == ("Question: Which figure of speech is used in this text?\n"
                      "Context: Jack's heart was a stone.\n"
                      "Options: (A) simile (B) metaphor\n"
                      "Response:")
    assert target == ("The answer is B. BECAUSE: Figures of speech are words or phrases.\\n"
                      "A metaphor compares without like or as. The text uses a metaphor.")


def test_qcm_a_and_qcm_lea_and_the_empty_context():
    no_hint = PROBLEM | {"hint": ""}
    prompt, target = build_prompt(no_hint, "QCM-A")
    assert "\nContext: N/A\n" in prompt and target == "The answer is B."
    _, target = build_prompt(PROBLEM, "QCM-LEA")
    assert target.startswith("Figures of speech") and target.endswith("The text uses a metaphor. The answer is B.")
    prompt, _ = build_prompt(no_hint, "QCM-A", caption="A stone.")
    assert "\nContext: A stone.\n" in prompt


def test_lavins_quirk_an_empty_explanation_keeps_because():
    _, target = build_prompt(PROBLEM | {"lecture": "", "solution": ""}, "QCM-ALE")
    assert target == "The answer is B. BECAUSE:"


def test_unknown_prompt_format_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValidationError, match="QCM-XYZ.*INPUT one of CQM, QCM"):
        ScienceQASource(root=tmp_path, prompt_format="QCM-XYZ")
    with pytest.raises(ValidationError, match="exactly one of `root`"):
        ScienceQASource()


def write(folder, problems, splits):
    (folder / "problems.json").write_text(json.dumps(problems))
    (folder / "pid_splits.json").write_text(json.dumps(splits))


def test_reads_the_layout_with_images_by_split_and_qid(tmp_path):
    image = PROBLEM | {"image": "image.png", "split": "test"}
    write(tmp_path, {"1": PROBLEM, "2": image}, {"train": ["1"], "val": [], "test": ["2"], "minitest": ["2"]})
    splits = read_scienceqa(ScienceQASource(root=tmp_path, test="minitest"))
    assert [s.id for s in splits["train"]] == ["1"] and splits["train"][0].media is None
    (sample,) = splits["test"]
    assert sample.media == tmp_path / "images" / "test" / "2" / "image.png"
    assert sample.meta["answer"] == 1 and sample.meta["choices"] == ["simile", "metaphor"]
    assert sample.meta["fields"]["grade"] == "grade7" and sample.meta["fields"]["image"] == "image.png"
    only = read_scienceqa(ScienceQASource(root=tmp_path, images_only=True))
    assert only["train"] == [] and len(only["test"]) == 1


@pytest.mark.parametrize(("problem", "says"), [
    ({k: v for k, v in PROBLEM.items() if k != "choices"}, "problem has no `choices`"),
    (PROBLEM | {"answer": 2}, "problem `answer` 2 is not an index into its 2 choices"),
])
def test_bad_problem_is_skipped_and_counted_by_screening(tmp_path, problem, says):
    from plait.data.dataset import screen

    write(tmp_path, {"1": problem, "2": PROBLEM}, {"train": ["1", "2", "3"], "val": [], "test": []})
    splits = read_scienceqa(ScienceQASource(root=tmp_path))
    kept, reports = screen(splits, lambda s: None, max_bad_fraction=0.7)
    assert [s.id for s in kept["train"]] == ["2"]
    assert reports["train"].skipped == {says: 1, "problem not in problems.json": 1}
    with pytest.raises(UserError, match=r"2 of 3 samples unusable"):
        screen(splits, lambda s: None, max_bad_fraction=0.05)


def test_unknown_split_list_names_the_field(tmp_path):
    write(tmp_path, {"1": PROBLEM}, {"train": ["1"], "test": []})
    with pytest.raises(UserError, match=r"data.source.validation: 'val' is not a list .* \(lists: train, test\)"):
        read_scienceqa(ScienceQASource(root=tmp_path))


def test_captions_join_the_context_when_asked(tmp_path):
    write(tmp_path, {"1": PROBLEM | {"hint": ""}}, {"train": ["1"], "val": [], "test": []})
    (tmp_path / "captions.json").write_text(json.dumps({"captions": {"1": "A rock."}}))
    (sample,) = read_scienceqa(ScienceQASource(root=tmp_path, use_caption=True))["train"]
    assert "\nContext: A rock.\n" in sample.prompt
    (plain,) = read_scienceqa(ScienceQASource(root=tmp_path))["train"]
    assert "\nContext: N/A\n" in plain.prompt
