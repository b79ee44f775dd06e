"""Plain-text corpora: globs, one example per line, or grouped into fixed-length blocks."""

from __future__ import annotations

import pytest

from plait.data.config import DataConfig
from plait.data.dataset import load_splits
from plait.errors import UserError


def _corpus(tmp_path):
    (tmp_path / "a.train").write_text("one two three\n\nfour five\n")
    (tmp_path / "b.train").write_text("six seven eight nine ten\n")
    (tmp_path / "c.dev").write_text("eleven twelve\n")


def test_lines_mode_keeps_each_non_blank_line_in_file_order(tmp_path):
    _corpus(tmp_path)
    cfg = DataConfig.model_validate({"source": {"kind": "text", "train": ["*.train"], "validation": ["c.dev"],
                                                "mode": "lines"}}, context={"base_dir": str(tmp_path)})
    splits = load_splits(cfg, seed=0)
    assert [s.target for s in splits["train"]] == ["one two three", "four five", "six seven eight nine ten"]
    assert splits["train"][1].id == "a.train:3" and [s.target for s in splits["validation"]] == ["eleven twelve"]


def test_blocks_mode_groups_words_and_drops_the_remainder(tmp_path):
    _corpus(tmp_path)
    cfg = DataConfig.model_validate({"source": {"kind": "text", "train": [str(tmp_path / "*.train")],
                                                "block_size": 3}})
    train = load_splits(cfg, seed=0)["train"]
    assert [s.target for s in train] == ["one two three", "four five six", "seven eight nine"]  # "ten" dropped


def test_a_pattern_that_matches_nothing_names_the_field(tmp_path):
    cfg = DataConfig.model_validate({"source": {"kind": "text", "train": [str(tmp_path / "*.train")]}})
    with pytest.raises(UserError, match=r"data.source.train\[0\]: .* matches no file"):
        load_splits(cfg, seed=0)
