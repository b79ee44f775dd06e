"""plait serve: a web page to talk to one or more trained runs, side by side."""

from __future__ import annotations

import argparse

NAME = "serve"
HELP = "web demo of trained runs (image / feature upload, text, speech, settings), several side by side"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories; several are shown side by side")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, metavar="N", help="port (default: the first free one from 7860)")
    parser.add_argument("--max-file-size", default="20mb", metavar="SIZE",
                        help="largest upload accepted, e.g. 500kb, 20mb (default 20mb)")
    parser.add_argument("--asr", metavar="MODEL",
                        help="transformers speech-recognition model for spoken questions (hub name or folder; "
                             "default: offline pocketsphinx)")


def main(args: argparse.Namespace) -> int:
    from plait.errors import UserError

    if args.port is not None and not 0 < args.port < 65536:
        raise UserError(f"--port: {args.port} is not a port; use 1-65535")
    if len(set(args.runs)) != len(args.runs):
        raise UserError("RUN: a run is named twice; name each run once")
    from plait.serve.app import build_app, launch, parse_size
    from plait.serve.session import LoadedRun
    from plait.serve.speech import make_transcriber

    max_bytes = parse_size(args.max_file_size)
    runs = [LoadedRun(path) for path in args.runs]
    named = make_transcriber(args.asr) if args.asr else None  # a bad --asr fails now, not at the first question
    launch(build_app(runs, lambda: named or make_transcriber(None)), args.host, args.port, max_bytes)
    return 0
