"""The terminal chat: questions stream answers; slash commands attach media and change settings."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from plait.errors import UserError
from plait.serve.session import Session
from plait.serve.speech import Transcriber, transcribe_file

SETTING_COMMANDS = {
    "/temperature": "temperature", "/top_p": "top_p", "/beams": "num_beams",
    "/max_new_tokens": "max_new_tokens", "/history": "history",
}
HELP = """commands:
  /image PATH           attach an image (or feature / pose file) to the next questions
  /audio PATH           transcribe a WAV file, show the transcript, then ask it
  /temperature X        0 = greedy; > 0 samples
  /top_p X              nucleus-sampling mass in (0, 1]
  /beams N              beam-search width (beams > 1 answer whole, not streamed)
  /max_new_tokens N     most tokens per answer
  /history N            earlier turns kept in the prompt
  /decoder_prompt TEXT  text the decoder starts from (encoder-decoder families; nothing = none)
  /settings             show the settings
  /reset                forget the conversation and the attached file
  /quit                 leave (Ctrl-D too)
anything else is a question."""


class Chat:
    """One terminal conversation over a Session."""

    def __init__(self, session: Session, transcriber: Callable[[], Transcriber],
                 read: Callable[[str], str] = input, out: TextIO = sys.stdout) -> None:
        self.session = session
        self.transcriber = transcriber
        self._transcriber: Transcriber | None = None
        self.read = read
        self.out = out

    def say(self, text: str, end: str = "\n") -> None:
        """Write and flush at once, so streamed pieces show as they come."""
        self.out.write(text + end)
        self.out.flush()

    def banner(self) -> None:
        """The run's name and headline metric."""
        loaded = self.session.loaded
        headline = loaded.headline()
        value = headline.get("value")
        shown = f" | {headline.get('metric')} {value:.2f}" if isinstance(value, (int, float)) else ""
        self.say(f"plait chat: {loaded.name}{shown}")
        self.say("type a question, or /help for commands")

    def ask(self, question: str) -> None:
        """Stream the answer to one question."""
        self.say("model> ", end="")
        answered = False
        for piece in self.session.ask(question):
            self.say(piece, end="")
            answered = answered or bool(piece.strip())
        self.say("" if answered else "(no answer: the model ended at once)")

    def command(self, line: str) -> bool:
        """Carry out a slash command; False means quit."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit"):
            return False
        if name == "/help":
            self.say(HELP)
        elif name in ("/image", "/media", "/file"):
            if not arg:
                raise UserError(f"{name}: give a path, e.g. {name} photo.png")
            self.say(f"attached {self.session.attach(arg)}")
        elif name == "/audio":
            if not arg:
                raise UserError("/audio: give the path of a WAV file")
            if self._transcriber is None:
                self._transcriber = self.transcriber()
            text = transcribe_file(self._transcriber, arg)
            self.say(f"heard ({self._transcriber.name}): {text or '(nothing)'}")
            if text:
                self.ask(text)
        elif name in SETTING_COMMANDS:
            field = SETTING_COMMANDS[name]
            if not arg:
                raise UserError(f"{name}: give a value, e.g. {name} {getattr(self.session.settings, field)}")
            self.session.settings = self.session.settings.replace(field, arg)
            self.say(f"{field} = {getattr(self.session.settings, field)}")
        elif name == "/decoder_prompt":
            self.session.decoder_prompt = arg
            self.say(f"decoder prompt = {arg!r}")
        elif name == "/settings":
            settings = self.session.settings
            media = self.session.media or "none"
            self.say(", ".join(f"{k} = {v}" for k, v in vars(settings).items()) + f"; media = {media}"
                     + (f"; decoder prompt = {self.session.decoder_prompt!r}" if self.session.decoder_prompt else ""))
        elif name == "/reset":
            self.session.reset()
            self.say("conversation and attached file forgotten")
        else:
            raise UserError(f"{name}: unknown command; /help lists them")
        return True

    def loop(self) -> None:
        """Read lines until /quit or end of input."""
        self.banner()
        while True:
            try:
                line = self.read("you> ").strip()
            except EOFError:
                self.say("")
                return
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not self.command(line):
                        return
                else:
                    self.ask(line)
            except UserError as err:
                self.say(f"error: {err}")
            except KeyboardInterrupt:
                self.say("\n(interrupted)")
            except (ValueError, OSError, RuntimeError) as err:  # e.g. a family that needs media got none
                self.say(f"\nerror: {err}")
