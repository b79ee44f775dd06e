"""plait chat: talk to a trained run in the terminal."""

from __future__ import annotations

import argparse

NAME = "chat"
HELP = "chat with a trained run in the terminal: attach an image or feature file, ask, change settings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run directory (runs/<experiment>/<run-id>)")
    parser.add_argument("--image", "--media", dest="media", metavar="PATH",
                        help="attach this image (or feature / pose file) from the start")
    parser.add_argument("--decoder-prompt", default="", metavar="TEXT",
                        help="text the decoder starts from, for encoder-decoder families (e.g. __en__)")
    parser.add_argument("--max-new-tokens", type=int, metavar="N",
                        help="most tokens per answer (default: what the run's evaluation used)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default); > 0 samples")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus-sampling mass in (0, 1] (default 1)")
    parser.add_argument("--beams", type=int, default=1, help="beam-search width (default 1 = none)")
    parser.add_argument("--asr", metavar="MODEL",
                        help="transformers speech-recognition model for /audio (hub name or folder; "
                             "default: offline pocketsphinx)")


def main(args: argparse.Namespace) -> int:
    from plait.serve.chat import Chat
    from plait.serve.session import LoadedRun, Session, Settings
    from plait.serve.speech import make_transcriber

    try:  # line editing and history for input(), where the platform has it
        import readline  # noqa: F401
    except ImportError:
        pass
    loaded = LoadedRun(args.run)
    settings = Settings(max_new_tokens=args.max_new_tokens or loaded.default_max_new_tokens(),
                        temperature=args.temperature, top_p=args.top_p, num_beams=args.beams)
    session = Session(loaded, settings, decoder_prompt=args.decoder_prompt)
    if args.media:
        session.attach(args.media)
    Chat(session, lambda: make_transcriber(args.asr)).loop()
    return 0
