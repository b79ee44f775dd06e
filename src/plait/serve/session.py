"""A loaded run, generation settings and a conversation: what chat, serve and predict share.

Family-agnostic: a media file (image, features, pose) is only a path handed to the family's processor,
checked first by the family's own `check`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plait.data.sample import Sample
from plait.errors import UserError
from plait.evaluate.generate import model_device
from plait.models.registry import capabilities, get_family
from plait.runs import atomic

DEFAULT_MAX_NEW_TOKENS = 32


@dataclass(frozen=True)
class Settings:
    """Generation settings a user can change while talking to the model."""

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    """Most tokens generated per answer."""
    temperature: float = 0.0
    """Sampling temperature; 0 = greedy (or beam) search, deterministic."""
    top_p: float = 1.0
    """Nucleus-sampling mass, in (0, 1]; used only when temperature > 0."""
    num_beams: int = 1
    """Beam-search width; 1 = no beam search. Beams > 1 cannot stream, so the answer comes whole."""
    history: int = 4
    """Earlier turns put in front of the question (0 = each question stands alone)."""

    def __post_init__(self) -> None:
        checks = {
            "max_new_tokens": (self.max_new_tokens >= 1, "an integer >= 1"),
            "temperature": (self.temperature >= 0, "a number >= 0 (0 = greedy)"),
            "top_p": (0 < self.top_p <= 1, "a number in (0, 1]"),
            "num_beams": (self.num_beams >= 1, "an integer >= 1"),
            "history": (self.history >= 0, "an integer >= 0"),
        }
        for name, (ok, valid) in checks.items():
            if not ok:
                raise UserError(f"{name}: {getattr(self, name)!r} is not allowed; use {valid}")

    def replace(self, name: str, value: str | float | int) -> Settings:
        """A copy with one setting changed, converting text to the field's type; UserError when invalid."""
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        if name not in kinds:
            raise UserError(f"{name}: no such setting; settings are {', '.join(kinds)}")
        convert = int if kinds[name] in (int, "int") else float
        try:
            typed = convert(value)
        except (TypeError, ValueError):
            raise UserError(f"{name}: {value!r} is not {'an integer' if convert is int else 'a number'}") from None
        return dataclasses.replace(self, **{name: typed})

    def generation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `generate`."""
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False)
        return kwargs


class LoadedRun:
    """A finished run's model and processor, loaded once and shared by every conversation with it."""

    def __init__(self, path: str | Path) -> None:
        from plait.runs.load import load_run

        self.run, self.experiment, self.built = load_run(path)
        self.family = get_family(self.experiment.model.family)
        self.media_kinds = capabilities(self.experiment.model.family).chat_media
        if self.media_kinds is None:
            raise UserError(f"{path}: the {self.experiment.model.family} family has no chat (it does not generate text)")
        self._check = self.family.checker(self.experiment.model)
        self.built.model.eval()
        # one generation at a time per model: web users share it, and CPU threads gain nothing from overlap
        self.lock = threading.Lock()

    @property
    def name(self) -> str:
        """`experiment/run-id`."""
        return f"{self.experiment.name}/{self.run.name}"

    @property
    def processor(self) -> Any:
        """The family's processor (prompts in, token ids out)."""
        return self.built.processor

    def headline(self) -> dict[str, Any]:
        """status.json's headline ({metric, value}), or {}."""
        headline = self.run.status().headline
        return headline.model_dump() if headline else {}

    def metrics(self) -> dict[str, dict[str, float]]:
        """{split: metrics} from eval/<split>.json."""
        found = {}
        if self.run.eval_dir.is_dir():
            for path in sorted(self.run.eval_dir.glob("*.json")):
                record = atomic.read_json(path) or {}
                found[path.stem] = record.get("metrics", {})
        return found

    def default_max_new_tokens(self) -> int:
        """The budget the run's own evaluation used, else the experiment's setting, else a default."""
        for path in sorted(self.run.eval_dir.glob("*.json")) if self.run.eval_dir.is_dir() else []:
            value = ((atomic.read_json(path) or {}).get("generation") or {}).get("max_new_tokens")
            if isinstance(value, int) and value > 0:
                return value
        return self.experiment.eval.max_new_tokens or DEFAULT_MAX_NEW_TOKENS

    def check_media(self, path: Path) -> str | None:
        """Why this family cannot use the file, or None."""
        if not self.media_kinds:
            return f"the {self.experiment.model.family} family takes text only"
        return self._check(Sample(id="media", prompt="", target="", media=path))

    def inputs(self, samples: list[Sample]) -> dict[str, torch.Tensor]:
        """A left-padded prompt batch on the model's device."""
        processor = self.processor
        batch = processor.collate_prompts(processor.encode_prompt_many(samples))
        device = model_device(self.built.model)
        return {k: v.to(device) for k, v in batch.items()}

    def prompt_length(self, sample: Sample) -> int | None:
        """Tokens the prompt takes (media tokens included), when the processor says."""
        ids = self.processor.encode_prompt(sample).get("input_ids")
        return len(ids) if ids is not None else None

    def context_limit(self) -> int | None:
        """Most positions the language model was configured for, when its config says."""
        return self.processor.max_positions

    def answer(self, sample: Sample, settings: Settings) -> str:
        """The whole answer to one prompt."""
        with self.lock, torch.no_grad():
            ids = self.built.model.generate(**self.inputs([sample]), **settings.generation_kwargs())
        return self.processor.decode(ids)[0]

    def stream(self, sample: Sample, settings: Settings) -> Iterator[str]:
        """The answer to one prompt in pieces as they are generated (whole when streaming cannot apply)."""
        tokenizer = self.processor.tokenizer
        if settings.num_beams > 1:
            yield self.answer(sample, settings)
            return
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        kwargs = {**self.inputs([sample]), **settings.generation_kwargs(), "streamer": streamer}
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with torch.no_grad():
                    self.built.model.generate(**kwargs)
            except BaseException as err:  # re-raised in the caller's thread below
                errors.append(err)
                streamer.end()

        with self.lock:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            try:
                yield from (piece for piece in streamer if piece)
            finally:
                thread.join()
        if errors:
            raise errors[0]


@dataclass
class Turn:
    """One question and the model's answer."""

    question: str
    answer: str


@dataclass
class Session:
    """One conversation with a loaded run: attached media, settings and the turns so far."""

    loaded: LoadedRun
    settings: Settings = field(default_factory=Settings)
    media: Path | None = None
    decoder_prompt: str = ""
    """Text the decoder starts from, for encoder-decoder families (e.g. a target-language tag)."""
    turns: list[Turn] = field(default_factory=list)
    last_prompt: str | None = None
    """The prompt text of the latest question, exactly as given to the processor."""

    def attach(self, path: str | Path) -> Path:
        """Use this media file from now on; UserError (nothing changed) when the family cannot use it."""
        media = Path(path).expanduser()
        reason = self.loaded.check_media(media)
        if reason is not None:
            raise UserError(f"{path}: cannot be used by this model ({reason})")
        self.media = media
        return media

    def reset(self) -> None:
        """Forget the turns and the media."""
        self.turns.clear()
        self.media = None
        self.last_prompt = None

    def prompt(self, question: str) -> str:
        """The question after the latest turns that fit the settings and the model's context."""
        question = question.strip()
        kept = self.turns[len(self.turns) - self.settings.history:] if self.settings.history else []
        limit = self.loaded.context_limit()
        while True:
            text = "\n".join([f"{t.question}\n{t.answer}" for t in kept] + [question])
            if not kept or limit is None:
                return text
            used = self.loaded.prompt_length(self.sample(text))
            if used is None or used + self.settings.max_new_tokens <= limit:
                return text
            kept = kept[1:]  # the oldest turn goes first when the context is full

    def sample(self, prompt: str) -> Sample:
        """A prompt-only sample with the attached media."""
        return Sample(id=f"turn-{len(self.turns) + 1}", prompt=prompt, target="", media=self.media,
                      decoder_prompt=self.decoder_prompt)

    def ask(self, question: str) -> Iterator[str]:
        """Stream the answer to `question`; the turn is kept once the answer is complete."""
        if not question.strip():
            raise UserError("the question is empty; type a question")
        self.last_prompt = self.prompt(question)
        pieces = []
        for piece in self.loaded.stream(self.sample(self.last_prompt), self.settings):
            pieces.append(piece)
            yield piece
        self.turns.append(Turn(question.strip(), "".join(pieces).strip()))

    def answer(self, question: str) -> str:
        """The whole answer to `question` (the turn is kept)."""
        return "".join(self.ask(question)).strip()
