"""Multiple-choice scoring: the answer parser, per-category accuracy on a hand-made problems fixture."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plait.evaluate.choice_config import LAVIN_PATTERN, MultipleChoiceConfig
from plait.evaluate.multiple_choice import category_scores, parse_choice

# qid: (subject, hint, image, grade, answer, generation)
FIXTURE = {
    "1": ("natural science", "", "image.png", "grade3", 0, "The answer is A. BECAUSE: ..."),   # right, IMG
    "2": ("natural science", "a hint", "image.png", "grade8", 1, "The answer is A. BECAUSE:"),  # wrong, TXT+IMG
    "3": ("social science", "a hint", None, "grade5", 2, "The answer is C."),                  # right, TXT
    "4": ("social science", "", None, "grade10", 1, "I think it is B"),                       # unparsable, NO
    "5": ("language science", "", None, "grade2", 1, "The answer is B."),                     # right, NO
    "6": ("language science", "", None, "grade12", 0, "The answer is E."),                    # E not an option
}


def scored():
    fields, answers, chosen = [], [], []
    for subject, hint, image, grade, answer, text in FIXTURE.values():
        fields.append({"subject": subject, "hint": hint, "image": image, "grade": grade})
        answers.append(answer)
        chosen.append(parse_choice(text, LAVIN_PATTERN, 3))
    return chosen, category_scores(chosen, answers, fields, MultipleChoiceConfig().categories)


def test_parser_reads_lavins_pattern_and_never_guesses():
    assert parse_choice("The answer is B. BECAUSE: x", LAVIN_PATTERN, 3) == 1
    assert parse_choice("The answer is B", LAVIN_PATTERN, 3) is None  # LaVIN's '.' needs one more character
    assert parse_choice("The answer is A. The answer is B.", LAVIN_PATTERN, 3) is None  # two answers
    assert parse_choice("The answer is D.", LAVIN_PATTERN, 3) is None  # no option D
    assert parse_choice("answer: (c)", r"answer: \(([a-z])\)", 3) is None  # lowercase letters are not options
    assert parse_choice("Answer: C", r"Answer: ([A-Z])", 3) == 2


def test_category_accuracy_on_a_hand_made_fixture():
    chosen, table = scored()
    assert chosen == [0, 0, 2, None, 1, None]
    expected = {  # correct / total, worked out by hand from FIXTURE
        "NAT": (1, 2), "SOC": (1, 2), "LAN": (1, 2), "TXT": (1, 2), "IMG": (1, 2), "NO": (1, 3),
        "G1-6": (3, 3), "G7-12": (0, 3), "Average": (3, 6),
    }
    assert list(table) == list(expected)
    for name, (correct, total) in expected.items():
        assert (table[name]["correct"], table[name]["total"]) == (correct, total), name
        assert table[name]["accuracy"] == round(100 * correct / total, 4)


def test_empty_category_is_none_and_categories_are_data():
    config = MultipleChoiceConfig(categories={"hard": {"topic": {"one_of": ["physics"]}}, "all": {}})
    table = category_scores([0, 1], [0, 0], [{"topic": "physics"}, {"topic": "maps"}], config.categories)
    assert table["hard"] == {"correct": 1, "total": 1, "accuracy": 100.0}
    assert table["all"]["accuracy"] == 50.0
    assert category_scores([0], [0], [{}], config.categories | {})["hard"]["accuracy"] is None


@pytest.mark.parametrize(("field", "value", "says"), [
    ("pattern", "The answer is [A-Z]", "needs a group"),
    ("pattern", "(", "is not a regular expression"),
    ("candidate", "{answer}", "only {letter} and {choice}"),
])
def test_bad_settings_name_the_field(field, value, says):
    with pytest.raises(ValidationError, match=says):
        MultipleChoiceConfig(**{field: value})
