"""Speech input: a question spoken by espeak-ng is transcribed and reaches the model as text."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from serve_run import TinyRun, tiny_run

from plait.errors import UserError
from plait.serve.chat import Chat
from plait.serve.session import LoadedRun, Session, Settings
from plait.serve.speech import PocketSphinx, make_transcriber, read_wav, transcribe_file

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (scripts/system-deps.sh installs it as root)")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    return tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """'what color is the shape' spoken by espeak-ng: a 22.05 kHz WAV, resampled on reading."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/system-deps.sh installs it as root)")
    path = tmp_path_factory.mktemp("speech") / "question.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(path), "what color is the shape"], check=True)
    return path


@needs_espeak
def test_pocketsphinx_hears_words_in_espeak_speech(spoken: Path) -> None:
    rate, samples = read_wav(spoken)
    assert rate != 16_000  # the resampling path is exercised
    text = transcribe_file(PocketSphinx(), spoken)
    assert text and all(word.isalpha() or "'" in word for word in text.split())


@needs_espeak
def test_spoken_question_reaches_the_model_as_text(run: TinyRun, spoken: Path) -> None:
    loaded = LoadedRun(run.path)
    seen: list[str] = []
    encode = loaded.processor.encode_prompt_many
    loaded.built.processor.encode_prompt_many = lambda samples: seen.extend(s.prompt for s in samples) or encode(samples)
    session = Session(loaded, Settings(max_new_tokens=4))
    out = io.StringIO()
    lines = iter([f"/image {run.image()}", f"/audio {spoken}", "/quit"])
    Chat(session, lambda: make_transcriber(None), read=lambda _: next(lines), out=out).loop()
    text = session.turns[-1].question
    assert text, out.getvalue()
    assert f"heard (pocketsphinx (offline, English)): {text}\nmodel> " in out.getvalue()
    assert out.getvalue().index("heard") < out.getvalue().index("model>")  # shown before it is used
    assert seen[-1] == text and session.last_prompt == text


def tiny_ctc_model(folder: Path) -> Path:
    """A random character-level wav2vec 2.0 recogniser saved locally: stands in for a named hub model."""
    import torch
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    folder.mkdir(parents=True)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), unk_token="<unk>", pad_token="<pad>",
                                     word_delimiter_token="|")
    features = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, return_attention_mask=False)
    Wav2Vec2Processor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(folder)
    config = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, pad_token_id=0)
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder


def test_a_named_transformers_model_transcribes_instead(tmp_path: Path) -> None:
    folder = tiny_ctc_model(tmp_path / "asr")
    transcriber = make_transcriber(str(folder))
    assert transcriber.name == str(folder)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 16_000).astype(np.float32)
    text = transcriber(noise)
    assert text and set(text) <= set("abcdefghijklmnopqrstuvwxyz <unk>")
    assert transcriber(noise) == text
    with pytest.raises(UserError, match="--asr .*no-such-model: cannot load"):
        make_transcriber(str(tmp_path / "no-such-model"))

