"""Speech input: audio -> text, with a transformers ASR model when named, else offline pocketsphinx."""

from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import Protocol

import numpy as np

from plait.errors import UserError

RATE = 16_000
"""Both recognisers take 16 kHz mono."""


class Transcriber(Protocol):
    """Turns 16 kHz mono float audio into text."""

    name: str

    def __call__(self, audio: np.ndarray) -> str: ...


def read_wav(path: str | Path) -> tuple[int, np.ndarray]:
    """(sample rate, samples) of a WAV file."""
    from scipy.io import wavfile

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: audio file not found")
    try:
        return wavfile.read(path)
    except ValueError as err:
        raise UserError(f"{path}: not a readable WAV file ({err}); convert it to WAV, e.g. with sox or ffmpeg") from None


def to_mono_16k(rate: int, samples: np.ndarray) -> np.ndarray:
    """Float32 mono samples in [-1, 1] at 16 kHz, from any integer or float WAV layout."""
    from scipy.signal import resample_poly

    data = np.asarray(samples)
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        data = (data.astype(np.float32) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    data = data.astype(np.float32)
    if data.ndim == 2:
        # (samples, channels) from WAV readers and gradio; the smaller axis is the channels
        data = data.mean(axis=1 if data.shape[1] <= data.shape[0] else 0)
    if rate != RATE:
        step = gcd(int(rate), RATE)
        data = resample_poly(data, RATE // step, int(rate) // step).astype(np.float32)
    return np.clip(data, -1.0, 1.0)


class PocketSphinx:
    """Offline English recognition with the model that ships inside the pocketsphinx wheel."""

    name = "pocketsphinx (offline, English)"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise UserError("speech input needs pocketsphinx: pip install 'plait[serve]'") from None
        self.decoder = Decoder(samprate=RATE)

    def __call__(self, audio: np.ndarray) -> str:
        pcm = (audio * 32767).astype(np.int16).tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""


class TransformersASR:
    """Any transformers speech-recognition model (Whisper, wav2vec 2.0...) by hub name or local folder."""

    def __init__(self, model: str) -> None:
        from transformers import pipeline

        try:
            self.pipe = pipeline("automatic-speech-recognition", model=model)
        except (OSError, ValueError) as err:
            raise UserError(f"--asr {model}: cannot load this speech-recognition model ({err}); "
                            "name a local folder or a model already in the Hugging Face cache") from None
        self.name = model

    def __call__(self, audio: np.ndarray) -> str:
        return str(self.pipe({"raw": audio, "sampling_rate": RATE})["text"]).strip()


def make_transcriber(model: str | None) -> Transcriber:
    """The named transformers ASR model, or pocketsphinx when none is named."""
    return TransformersASR(model) if model else PocketSphinx()


def transcribe_file(transcriber: Transcriber, path: str | Path) -> str:
    """The text spoken in a WAV file."""
    return transcriber(to_mono_16k(*read_wav(path)))
