"""Config of multiple-choice evaluation: how an answer is chosen and the categories accuracy is reported by.

Torch-free (the experiment schema imports it).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from plait.core.strict import Strict

LAVIN_PATTERN = r"The answer is ([A-Z])."
"""LaVIN's eval.py pattern, as written: its unescaped '.' matches any character (so 'The answer is A' at the very
end of a generation does not match, and 'The answer is AB' does)."""


class Condition(Strict):
    """A test on one problem field: its value is one of a list, or it is empty (None, '', [])."""

    one_of: list[Any] | None = None
    """The field's value is one of these."""
    empty: bool | None = None
    """true: the field is empty or absent; false: it holds something."""

    @model_validator(mode="after")
    def _one(self) -> "Condition":
        if (self.one_of is None) == (self.empty is None):
            raise ValueError("give exactly one of `one_of` (a list of values) or `empty` (true/false)")
        return self

    def holds(self, value: Any) -> bool:
        if self.one_of is not None:
            return value in self.one_of
        return (value in (None, "", [], {})) == self.empty


GRADES_1_6 = [f"grade{i}" for i in range(1, 7)]
GRADES_7_12 = [f"grade{i}" for i in range(7, 13)]
SCIENCEQA_CATEGORIES: dict[str, dict[str, dict[str, Any]]] = {
    "NAT": {"subject": {"one_of": ["natural science"]}},
    "SOC": {"subject": {"one_of": ["social science"]}},
    "LAN": {"subject": {"one_of": ["language science"]}},
    "TXT": {"hint": {"empty": False}},
    "IMG": {"image": {"empty": False}},
    "NO": {"hint": {"empty": True}, "image": {"empty": True}},
    "G1-6": {"grade": {"one_of": GRADES_1_6}},
    "G7-12": {"grade": {"one_of": GRADES_7_12}},
    "Average": {},
}
"""ScienceQA's columns (lupantech/ScienceQA tools/evaluate_acc.py); TXT and IMG overlap, NO is neither."""


class MultipleChoiceConfig(Strict):
    """Multiple-choice scoring: samples carry meta choices, answer (index) and fields (for categories)."""

    method: Literal["parse", "likelihood"] = "parse"
    """parse: generate, then read the letter with `pattern`; likelihood: score `candidate` for every option and take
    the likeliest (no generation, never unparsable)."""
    pattern: str = LAVIN_PATTERN
    """Regular expression whose first group is the option letter; exactly one match per generation, else the
    answer is unparsable (counted wrong and reported, never guessed)."""
    candidate: str = "The answer is {letter}."
    """The continuation scored per option with method likelihood ({letter} and {choice} are filled in)."""
    categories: dict[str, dict[str, Condition]] = Field(
        default_factory=lambda: {k: {f: Condition(**c) for f, c in v.items()} for k, v in SCIENCEQA_CATEGORIES.items()})
    """Accuracy columns: name -> conditions on the sample's meta fields, all of which must hold ({} = every sample)."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as err:
            raise ValueError(f"{value!r} is not a regular expression ({err})") from None
        if compiled.groups < 1:
            raise ValueError(f"{value!r} needs a group that captures the option letter, e.g. {LAVIN_PATTERN!r}")
        return value

    @field_validator("candidate")
    @classmethod
    def _fields(cls, value: str) -> str:
        try:
            value.format(letter="A", choice="x")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"{value!r}: only {{letter}} and {{choice}} can be filled in ({err})") from None
        return value
