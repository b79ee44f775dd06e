"""The registry is the one list of families: the schema, --help and the README table come from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.cli import build_parser
from plait.config.schema import Experiment
from plait.models import registry
from plait.models.registry import Capabilities, FamilySpec, family_table
from toy_family import SPEC

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_family_table_is_the_registry():
    text = README.read_text()
    block = text.split("<!-- families:")[1].split("-->", 1)[1].split("<!-- /families -->")[0].strip()
    assert block == family_table()


def test_registering_a_family_extends_the_schema_and_help():
    assert "toy" not in {s.name for s in registry.specs()}
    registry.register(SPEC)
    try:
        exp = Experiment.model_validate({"name": "x", "model": {"family": "toy", "hidden": 4}})
        assert exp.model.hidden == 4 and exp.eval.task == "generate"
        assert "toy" in build_parser().epilog and "toy" in family_table()
    finally:
        registry.unregister("toy")
    with pytest.raises(Exception, match="toy"):
        Experiment.model_validate({"name": "x", "model": {"family": "toy"}})


def test_a_spec_whose_config_does_not_name_it_is_refused():
    with pytest.raises(ValueError, match="needs `family: Literal"):
        registry.register(FamilySpec("other", SPEC.config, "toy_family:TOY", Capabilities(), "x"))
    with pytest.raises(ValueError, match="eval_tasks"):
        registry.register(FamilySpec("toy", SPEC.config, "toy_family:TOY", Capabilities(eval_tasks=("dance",)), "x"))
