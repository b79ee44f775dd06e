"""Per-layer adapter dropout: the study's rising and falling schedules, resolved values in the config and model."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from plait.models.adapter.build import build
from plait.models.adapter.config import AdapterModelConfig, DropoutSchedule
from plait.models.adapter.modules import RouterAdapter
from tests.tiny_adapter import samples, tiny_model


def test_rising_schedule_of_the_study():
    values = DropoutSchedule(prob=0.1, limit=0.2, var=1.01).values(32)
    assert values == [round(0.1 * 1.01 ** i, 6) for i in range(32)]
    assert values[0] == 0.1 and values[1] == 0.101 and values[31] == 0.136133  # 0.1 x 1.01^31, under the ceiling
    assert DropoutSchedule(prob=0.1, limit=0.2, var=1.01).values(80)[-1] == 0.2  # 1.01^70 > 2: held at 0.2


def test_falling_schedule_of_the_study():
    values = DropoutSchedule(prob=0.2, limit=0.1, var=0.97).values(32)
    assert values[:3] == [0.2, 0.194, 0.18818]
    first_floor = math.ceil(math.log(0.5) / math.log(0.97))  # 0.2 x 0.97^i < 0.1 from i = 23
    assert first_floor == 23
    assert values[22] == round(0.2 * 0.97 ** 22, 6) == 0.102331 and values[23:] == [0.1] * 9


@pytest.mark.parametrize(("prob", "limit", "var", "says"), [
    (0.2, 0.1, 1.01, "rising"), (0.1, 0.2, 0.97, "falling")])
def test_schedule_pointing_away_from_its_limit_is_refused(prob, limit, var, says):
    with pytest.raises(ValidationError, match=f"limit: a {says} schedule"):
        DropoutSchedule(prob=prob, limit=limit, var=var)


def test_resolved_values_are_in_the_config_and_in_the_built_model(tmp_path):
    cfg = AdapterModelConfig.model_validate(tiny_model(dropout={"prob": 0.2, "limit": 0.1, "var": 0.5}))
    assert cfg.layer_dropout == {"language": [0.2, 0.1, 0.1], "vision": [0.2, 0.1, 0.1, 0.1]}
    assert cfg.model_dump(mode="json")["layer_dropout"] == cfg.layer_dropout
    built = build(cfg, samples(tmp_path))
    assert built.info["adapter_dropout"] == cfg.layer_dropout
    lm = [m.dropout.p for m in built.model.language.modules() if isinstance(m, RouterAdapter)]
    vision = [m.dropout.p for m in built.model.vision.modules() if isinstance(m, RouterAdapter)]
    assert lm == [0.2, 0.1, 0.1] and vision == [0.2, 0.1, 0.1, 0.1]
    with pytest.raises(ValidationError, match="layer_dropout: .* is not what adapter.dropout gives"):
        AdapterModelConfig.model_validate(tiny_model(dropout=0.3) | {"layer_dropout": cfg.layer_dropout})


def test_constant_dropout_out_of_range_names_the_field():
    with pytest.raises(ValidationError, match="dropout"):
        AdapterModelConfig.model_validate(tiny_model(dropout=1.5))


def test_schedule_shorthand_for_sweeps():
    cfg = AdapterModelConfig.model_validate(tiny_model(dropout="0.2:0.1:0.97"))
    assert cfg.adapter.dropout == DropoutSchedule(prob=0.2, limit=0.1, var=0.97)
    with pytest.raises(ValidationError, match="PROB:LIMIT:VAR"):
        AdapterModelConfig.model_validate(tiny_model(dropout="rising"))


def test_layer_counts_come_from_a_cached_hub_checkpoint(tmp_path, monkeypatch):
    import json

    from huggingface_hub import constants

    for name, config in (("org--lm", {"model_type": "llama", "num_hidden_layers": 5}),
                         ("org--clip", {"model_type": "clip", "vision_config": {"num_hidden_layers": 3}})):
        snapshot = tmp_path / f"models--{name}" / "snapshots" / "abc"
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text(json.dumps(config))
        (tmp_path / f"models--{name}" / "refs").mkdir()
        (tmp_path / f"models--{name}" / "refs" / "main").write_text("abc")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    # every: 1 (the default 4 is more than this encoder's 3 layers, which the config refuses)
    raw = tiny_model(dropout="0.1:0.2:1.01") | {"vision": {"pretrained": "org/clip", "every": 1},
                                                 "language": {"pretrained": "org/lm"}, "tokenizer": {}}
    cfg = AdapterModelConfig.model_validate(raw)
    assert cfg.layer_dropout == {"language": [0.1, 0.101, 0.10201, 0.10303, 0.104060],
                                 "vision": [0.1, 0.101, 0.10201]}
    missing = AdapterModelConfig.model_validate(raw | {"language": {"pretrained": "org/absent"}})
    assert missing.layer_dropout is None  # resolved at build time instead (the built event records it)
