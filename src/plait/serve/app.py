"""The web demo: one Gradio page, one chat column per run, shared media, question, speech and settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from plait.errors import UserError
from plait.serve.session import LoadedRun, Session, Settings
from plait.serve.speech import RATE, Transcriber, to_mono_16k

MEDIA_TYPES = ["image", ".npy", ".pt", ".safetensors", ".pose"]
"""What the media upload accepts: images, and feature / pose files for families that read them.
Each run's family then checks the file's content before it is used."""
MAX_AUDIO_SECONDS = 60
NO_ANSWER = "(no answer: the model ended at once)"


def parse_size(text: str) -> int:
    """Bytes in a size such as 500kb or 20mb, read by Gradio's own parser (the one `launch(max_file_size=)` uses)."""
    from gradio.utils import _parse_file_size

    try:
        size = _parse_file_size(text)
    except ValueError:
        size = None
    if not size or size < 0:
        raise UserError(f"--max-file-size: {text!r} is not a size; use e.g. 500kb or 20mb")
    return size


def run_card(loaded: LoadedRun) -> str:
    """Markdown: the run's name, family, headline and every evaluated split's metrics."""
    lines = [f"### {loaded.name}", f"family `{loaded.experiment.model.family}`"]
    headline = loaded.headline()
    if isinstance(headline.get("value"), (int, float)):
        lines[-1] += f" · headline {headline['metric']} **{headline['value']:.2f}**"
    for split, values in loaded.metrics().items():
        shown = " · ".join(f"{name} {value:.2f}" for name, value in values.items() if isinstance(value, (int, float)))
        lines.append(f"{split}: {shown}")
    return "\n\n".join(lines)


class SharedTranscriber:
    """The recogniser, loaded on first use and used by one request at a time."""

    def __init__(self, factory: Callable[[], Transcriber]) -> None:
        self.factory = factory
        self.transcriber: Transcriber | None = None
        self.lock = threading.Lock()

    def __call__(self, rate: int, samples: Any) -> tuple[str, str]:
        """(transcript, recogniser name) of audio as gradio hands it over."""
        audio = to_mono_16k(rate, samples)
        if len(audio) > MAX_AUDIO_SECONDS * RATE:
            raise UserError(f"audio: {len(audio) / RATE:.0f} s is too long; at most {MAX_AUDIO_SECONDS} s")
        with self.lock:
            if self.transcriber is None:
                self.transcriber = self.factory()
            return self.transcriber(audio), self.transcriber.name


def new_sessions(runs: list[LoadedRun]) -> list[Session]:
    """One fresh conversation per run, at each run's own answer budget."""
    return [Session(r, Settings(max_new_tokens=r.default_max_new_tokens())) for r in runs]


def attach(sessions: list[Session], path: str) -> str | None:
    """Attach `path` to every conversation; the refusal message, or None when every run accepted it."""
    for session in sessions:
        try:
            session.attach(path)
        except UserError as err:
            for other in sessions:
                other.media = None
            return f"refused {Path(path).name}: {err.lines[-1].split(': ', 1)[-1]} ({session.loaded.name})"
    return None


def answer_all(sessions: list[Session], question: str, settings: Settings,
               chats: list[list[dict[str, Any]]]) -> Iterator[list[list[dict[str, Any]]]]:
    """Ask every run in turn, yielding the chat histories as each answer grows."""
    for session, chat in zip(sessions, chats, strict=True):
        session.settings = settings
        chat.append({"role": "user", "content": question})
        chat.append({"role": "assistant", "content": ""})
        for piece in session.ask(question):
            chat[-1]["content"] += piece
            yield chats
        chat[-1]["content"] = chat[-1]["content"].strip() or NO_ANSWER
        yield chats


def build_app(runs: list[LoadedRun], transcriber: Callable[[], Transcriber]) -> gr.Blocks:
    """The page: run cards and chats side by side, then media, speech, question and settings."""
    listen = SharedTranscriber(transcriber)
    defaults = Settings(max_new_tokens=max(r.default_max_new_tokens() for r in runs))
    with gr.Blocks(title="plait serve", analytics_enabled=False) as demo:
        state = gr.State(None)
        with gr.Row():
            chatbots = []
            for i, loaded in enumerate(runs):
                with gr.Column():
                    gr.Markdown(run_card(loaded), elem_id=f"card-{i}")
                    chatbots.append(gr.Chatbot(label=loaded.name, elem_id=f"chat-{i}", height=360))
        notice = gr.Markdown(elem_id="notice")
        with gr.Row():
            with gr.Column(scale=1):
                media = gr.File(label="image / feature / pose file", file_types=MEDIA_TYPES, type="filepath",
                                elem_id="media")
                audio = gr.Audio(sources=["upload", "microphone"], type="numpy", label="spoken question",
                                 elem_id="audio")
            with gr.Column(scale=2):
                question = gr.Textbox(label="question", placeholder="ask about the attached file",
                                      elem_id="question", lines=2)
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="send")
                    clear = gr.Button("New conversation", elem_id="clear")
                with gr.Accordion("generation settings", open=False):
                    max_new = gr.Slider(1, 512, value=defaults.max_new_tokens, step=1, label="max new tokens")
                    temperature = gr.Slider(0, 2, value=defaults.temperature, step=0.05,
                                            label="temperature (0 = greedy)")
                    top_p = gr.Slider(0.05, 1, value=defaults.top_p, step=0.05, label="top p")
                    beams = gr.Slider(1, 8, value=defaults.num_beams, step=1, label="beams (> 1: no streaming)")
                    history = gr.Slider(0, 10, value=defaults.history, step=1, label="earlier turns in the prompt")
                    decoder_prompt = gr.Textbox(label="decoder prompt (encoder-decoder families, e.g. __en__)")

        def on_media(path: str, sessions: list[Session] | None, *chats: list) -> tuple:
            sessions = sessions or new_sessions(runs)
            chats = [list(c or []) for c in chats]
            refusal = attach(sessions, path)
            if refusal:
                return (sessions, refusal, None, *chats)  # emptied, so the upload box is back for another try
            for chat in chats:
                chat.append({"role": "user", "content": {"path": path}})
            return (sessions, f"attached {Path(path).name}", gr.update(), *chats)

        def on_detach(sessions: list[Session] | None) -> tuple:
            for session in sessions or []:
                session.media = None
            return sessions, ""

        def on_audio(recording: tuple[int, Any] | None) -> tuple[Any, str]:
            if recording is None:
                return gr.update(), ""
            try:
                text, name = listen(*recording)
            except UserError as err:
                return gr.update(), f"refused audio: {err}"
            return text, f"heard ({name}): “{text}”, edit it if needed, then Send"

        def on_send(text: str, sessions: list[Session] | None, new_tokens: float, temp: float, p: float,
                    width: float, turns: float, start: str | None, *chats: list) -> Iterator[tuple]:
            sessions = sessions or new_sessions(runs)
            chats = [list(c or []) for c in chats]
            if not text.strip():
                yield (text, sessions, "type or speak a question first", *chats)
                return
            try:
                settings = Settings(int(new_tokens), float(temp), float(p), int(width), int(turns))
            except UserError as err:
                yield (text, sessions, f"settings: {err}", *chats)
                return
            for session in sessions:
                session.decoder_prompt = (start or "").strip()
            for current in answer_all(sessions, text, settings, chats):
                yield ("", sessions, "", *current)

        def on_clear(sessions: list[Session] | None) -> tuple:
            for session in sessions or []:
                session.reset()
            return (sessions, None, "", *([[]] * len(runs)))

        media.upload(on_media, [media, state, *chatbots], [state, notice, media, *chatbots])
        media.clear(on_detach, [state], [state, notice])
        audio.change(on_audio, [audio], [question, notice])
        inputs = [question, state, max_new, temperature, top_p, beams, history, decoder_prompt, *chatbots]
        send.click(on_send, inputs, [question, state, notice, *chatbots])
        question.submit(on_send, inputs, [question, state, notice, *chatbots])
        clear.click(on_clear, [state], [state, media, notice, *chatbots])
    return demo


def launch(demo: gr.Blocks, host: str, port: int | None, max_file_size: int, block: bool = True) -> str:
    """Serve the page, uploads up to `max_file_size` bytes; return its address once it is up (when not blocking).

    No allowed_paths are given: gradio then serves only what was uploaded and what the app itself made.
    """
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, max_file_size=max_file_size, prevent_thread_lock=not block,
                share=False, inbrowser=False, show_error=True, ssr_mode=False, quiet=not block)
    return demo.local_url
