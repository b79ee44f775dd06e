"""experiments/babylm.py: every function is a valid experiment; the full-size ones have BabyLM's shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.config import load_experiment
from plait.data.config import Source
from plait.errors import UserError

FILE = Path(__file__).resolve().parents[2] / "experiments" / "babylm.py"
HAS_TEXT = "text" in str(Source)  # the text family's `kind: text` source


@pytest.mark.parametrize("name", ["flamingo_1vd25_standin", "git_1vd25_standin", "flamingo_tiny", "git_tiny"])
def test_functions_validate(name: str) -> None:
    exp = load_experiment(f"{FILE}:{name}")
    mix = exp.data.mix
    assert mix.mode == "paired" and [(s.name, s.weight) for s in mix.sources] == [("captions", 1.0), ("text", 0.25)]


def test_full_size_shapes_follow_babylm() -> None:
    exp = load_experiment(f"{FILE}:flamingo_1vd25_standin")
    m = exp.model
    assert (m.cross_attention.every, m.cross_attention.start, m.resampler.depth, m.resampler.latents) == (2, "first", 2, 64)
    assert m.language.config["hidden_size"] == 768 and m.language.config["num_hidden_layers"] == 12
    assert m.vision.config["patch_size"] == 16 and m.vision.freeze and not m.language.freeze
    t = exp.train
    assert (t.lr, t.weight_decay, t.batch_size, t.max_grad_norm, t.schedule.warmup_steps) == (1e-4, 0.1, 128, 1.0, 5000)
    captions, text = exp.data.mix.sources
    assert (captions.source.kind, captions.source.part, text.source.part) == ("builtin_captions", "captions", "text")
    git = load_experiment(f"{FILE}:git_1vd25_standin").model
    assert git.vision.replaced and git.language.config["num_hidden_layers"] == 12


@pytest.mark.skipif(not HAS_TEXT, reason="needs the text family's `kind: text` source (issue: text corpus reader)")
@pytest.mark.parametrize("name", ["flamingo_1vd25", "git_1vd25"])
def test_real_data_functions_validate(name: str) -> None:
    exp = load_experiment(f"{FILE}:{name}")
    assert exp.model.vision.pretrained == "facebook/dino-vitb16"
    assert [s.kind for s in exp.data.mix.sources[0].source] == [
        "cc3m", "localized_narratives", "localized_narratives"]


@pytest.mark.parametrize("name", ["opt125m", "roberta_base"])
def test_text_baselines_load_their_yaml(name: str) -> None:
    yaml_file = FILE.parent / f"babylm-{name.replace('_', '-')}.yaml"
    if yaml_file.exists():
        assert load_experiment(f"{FILE}:{name}").data.mix is None  # a text-only baseline
    else:
        with pytest.raises(UserError, match="not found"):
            load_experiment(f"{FILE}:{name}")
