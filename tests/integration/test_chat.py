"""plait chat, driven through a pseudo-terminal: an image, two questions, settings, reset."""

from __future__ import annotations

import os
import sys

import pexpect
import pytest
from serve_run import TinyRun, tiny_run

from plait.serve.session import LoadedRun, Session, Settings


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    return tiny_run(tmp_path_factory)


def expected_answers(run: TinyRun, questions: list[str]) -> list[str]:
    """The answers the same conversation gets in-process (greedy, so the terminal must show the same)."""
    loaded = LoadedRun(run.path)
    session = Session(loaded, Settings(max_new_tokens=loaded.default_max_new_tokens()))
    session.attach(run.image())
    return [session.answer(q) for q in questions]


def test_chat_in_a_terminal_answers_two_questions_about_an_image(run: TinyRun) -> None:
    questions = ["what color is the shape?", "what shape is it?"]
    answers = expected_answers(run, questions)
    assert all(answers), "the tiny model should say something to each question"
    chat = pexpect.spawn(sys.executable, ["-m", "plait", "chat", str(run.path)], env=dict(os.environ),
                         encoding="utf-8", timeout=90, dimensions=(40, 200))
    try:
        chat.expect("plait chat: quickstart/")
        chat.expect("exact_match")
        chat.expect_exact("you> ")
        chat.sendline(f"/image {run.image()}")
        chat.expect_exact(f"attached {run.image()}")
        for question, answer in zip(questions, answers):
            chat.expect_exact("you> ")
            chat.sendline(question)
            chat.expect_exact(f"model> {answer}\r\n")
        chat.expect_exact("you> ")
        chat.sendline("/temperature -1")
        chat.expect_exact("error: temperature: -1.0 is not allowed")
        chat.sendline("/beams 2")
        chat.expect_exact("num_beams = 2")
        chat.sendline("/image /no/such/file.png")
        chat.expect("error: /no/such/file.png: cannot be used by this model \\(missing file\\)")
        chat.sendline("/settings")
        chat.expect_exact(f"num_beams = 2, history = 4; media = {run.image()}")
        chat.sendline("/reset")
        chat.expect_exact("conversation and attached file forgotten")
        chat.sendline("/quit")
        chat.expect(pexpect.EOF)
    finally:
        chat.close()
    assert chat.exitstatus == 0


def test_chat_refuses_a_folder_that_is_not_a_run(tmp_path) -> None:
    from plait.cli import main

    assert main(["chat", str(tmp_path)]) == 2
