"""Reading prediction manifests: media relative to the file, optional references and decoder prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.errors import UserError
from plait.serve.predict import Fields, read_prompts


def test_tsv_rows_become_samples_with_their_media_and_decoder_prompt(tmp_path: Path) -> None:
    manifest = tmp_path / "rows.tsv"
    manifest.write_text("signal\tencoder_prompt\tdecoder_prompt\n"
                        "signals/a.npy\t__sgn__\t__en__\n/abs/b.npy\t__sgn__\t__de__\n")
    samples, has_reference = read_prompts(manifest, Fields(media="signal", prompt="encoder_prompt"))
    assert not has_reference
    assert [s.id for s in samples] == ["0", "1"]
    assert samples[0].media == tmp_path / "signals" / "a.npy" and samples[1].media == Path("/abs/b.npy")
    assert [s.decoder_prompt for s in samples] == ["__en__", "__de__"]
    assert samples[0].prompt == "__sgn__" and samples[0].target == ""


def test_rows_without_the_prompt_column_or_any_rows_are_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "rows.csv"
    manifest.write_text("id,question\n1,hi\n")
    with pytest.raises(UserError, match="missing column 'prompt' \\(set it with --prompt-field\\); columns present: id, question"):
        read_prompts(manifest, Fields())
    manifest.write_text("id,prompt\n")
    with pytest.raises(UserError, match="the manifest has no rows"):
        read_prompts(manifest, Fields())
