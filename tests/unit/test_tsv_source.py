"""The MultimodalHugs TSV source: columns, paths, clip times, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.data.sources.tsv import COLUMNS, read_tsv, write_tsv
from plait.errors import UserError


def test_reads_rows_with_relative_and_absolute_paths(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere" / "b.pose"
    (tmp_path / "data").mkdir()
    write_tsv(tmp_path / "data" / "train.tsv", [
        {"signal": "poses/a.pose", "signal_start": 0, "signal_end": 0, "encoder_prompt": "__dgs__",
         "decoder_prompt": "__de__", "output": "am tag"},
        {"signal": str(absolute), "signal_start": 120, "signal_end": 2040.5, "encoder_prompt": "",
         "decoder_prompt": "__de__", "output": "regen"},
    ])
    first, second = read_tsv(tmp_path / "data" / "train.tsv")
    assert first.media == tmp_path / "data" / "poses" / "a.pose"
    assert (first.start_ms, first.end_ms) == (None, None)  # 0 means the whole file, as in MultimodalHugs
    assert (first.prompt, first.decoder_prompt, first.target) == ("__dgs__", "__de__", "am tag")
    assert second.media == absolute
    assert (second.start_ms, second.end_ms) == (120.0, 2040.5)
    assert [first.id, second.id] == ["train-0", "train-1"]


@pytest.mark.parametrize("column", COLUMNS)
def test_missing_column_is_one_line_naming_file_and_column(tmp_path: Path, column: str) -> None:
    path = tmp_path / "dev.tsv"
    header = [c for c in COLUMNS if c != column]
    path.write_text("\t".join(header) + "\n" + "\t".join("0" for _ in header) + "\n")
    with pytest.raises(UserError) as err:
        read_tsv(path)
    assert len(err.value.lines) == 1
    assert str(path) in err.value.lines[0] and f"missing column {column!r}" in err.value.lines[0]


def test_bad_times_name_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    write_tsv(path, [{"signal": "a.npy", "signal_start": "soon", "signal_end": 0, "output": "x"}])
    with pytest.raises(UserError, match=r"train.tsv line 2: signal_start 'soon' is not a number"):
        read_tsv(path)
    write_tsv(path, [{"signal": "a.npy", "signal_start": 500, "signal_end": 100, "output": "x"}])
    with pytest.raises(UserError, match=r"line 2: signal_end \(100\) must be after signal_start \(500\)"):
        read_tsv(path)


def test_missing_tsv_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nope.tsv: TSV file not found"):
        read_tsv(tmp_path / "nope.tsv")
