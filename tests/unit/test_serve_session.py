"""The conversation logic behind chat and serve, on a stand-in model: settings, history, media, audio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from plait.data.sample import Sample
from plait.errors import UserError
from plait.serve.app import answer_all, attach, parse_size
from plait.serve.session import Session, Settings
from plait.serve.speech import to_mono_16k


class EchoRun:
    """Stands in for a LoadedRun: one token per word, a 20-token context, answers 'ok <last word>'."""

    name = "echo/run"

    def __init__(self, accepts: str = ".png") -> None:
        self.accepts = accepts
        self.prompts: list[Sample] = []

    def check_media(self, path: Path) -> str | None:
        return None if path.suffix == self.accepts else "wrong kind of file"

    def prompt_length(self, sample: Sample) -> int:
        return len(sample.prompt.split()) + (4 if sample.media else 0)

    def context_limit(self) -> int:
        return 20

    def stream(self, sample: Sample, settings: Settings) -> Iterator[str]:
        self.prompts.append(sample)
        yield "ok "
        yield sample.prompt.split()[-1]


def test_settings_check_and_convert_values() -> None:
    settings = Settings().replace("temperature", "0.7").replace("num_beams", "3")
    assert (settings.temperature, settings.num_beams) == (0.7, 3)
    assert settings.generation_kwargs() == {"max_new_tokens": 32, "num_beams": 3, "do_sample": True,
                                            "temperature": 0.7, "top_p": 1.0}
    assert Settings().generation_kwargs()["do_sample"] is False
    with pytest.raises(UserError, match="top_p: 1.5 is not allowed; use a number in"):
        Settings().replace("top_p", "1.5")
    with pytest.raises(UserError, match="num_beams: 'two' is not an integer"):
        Settings().replace("num_beams", "two")
    with pytest.raises(UserError, match="no such setting; settings are max_new_tokens"):
        Settings().replace("beam", "2")


def test_history_is_prepended_and_trimmed_to_the_context(tmp_path: Path) -> None:
    run = EchoRun()
    session = Session(run, Settings(max_new_tokens=4, history=2))
    session.attach(tmp_path / "a.png")
    assert session.answer("one two") == "ok two"
    assert session.answer("three") == "ok three"
    assert session.last_prompt == "one two\nok two\nthree"
    assert run.prompts[-1].media == tmp_path / "a.png"
    session.answer("four")
    assert session.last_prompt == "one two\nok two\nthree\nok three\nfour"
    session.answer("five")  # history=2: the first turn falls out
    assert session.last_prompt == "three\nok three\nfour\nok four\nfive"
    session.settings = Settings(max_new_tokens=10, history=2)  # 4 media + 7 words + 10 new > 20: drop the oldest
    session.answer("six")
    assert session.last_prompt == "five\nok five\nsix"
    session.reset()
    assert session.turns == [] and session.media is None
    with pytest.raises(UserError, match="the question is empty"):
        session.answer("  ")


def test_media_a_run_cannot_use_is_refused_for_every_side(tmp_path: Path) -> None:
    sessions = [Session(EchoRun(".png")), Session(EchoRun(".pose"))]
    refusal = attach(sessions, str(tmp_path / "x.png"))
    assert refusal == "refused x.png: cannot be used by this model (wrong kind of file) (echo/run)"
    assert all(s.media is None for s in sessions)
    sessions = [Session(EchoRun()), Session(EchoRun())]
    assert attach(sessions, str(tmp_path / "x.png")) is None
    chats = [[], []]
    for _ in answer_all(sessions, "hello there", Settings(), chats):
        pass
    assert chats[1] == [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "ok there"}]


def test_upload_size_limits_parse() -> None:
    assert parse_size("20mb") == 20 * 1024 ** 2
    assert parse_size("500KB") == 500 * 1024
    with pytest.raises(UserError, match="--max-file-size: 'big' is not a size"):
        parse_size("big")


def test_audio_becomes_16k_mono_floats() -> None:
    stereo = np.stack([np.full(22_050, 16_384, np.int16), np.full(22_050, -16_384, np.int16)], axis=1)
    mono = to_mono_16k(22_050, stereo)
    assert mono.dtype == np.float32 and mono.shape == (16_000,)
    assert np.allclose(mono, 0.0, atol=1e-3)
    assert np.allclose(to_mono_16k(16_000, np.full(100, 192, np.uint8)), 0.5)
    assert np.allclose(to_mono_16k(16_000, np.full(100, 0.25, np.float64)), 0.25)
