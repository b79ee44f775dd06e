"""Errors meant for people: one line each; exit code 2 for bad input, 1 for a failed run."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a file, field or flag that is wrong, and what would be right."""

    exit_code = 2

    def __init__(self, *lines: str) -> None:
        self.lines = [line for line in lines if line]
        super().__init__("\n".join(self.lines))


class ConfigError(UserError):
    """One or more problems in an experiment; all are reported at once."""


class RunFailed(Exception):
    """A run that started and could not finish for a reason it names (e.g. non-finite training): exit code 1."""

    exit_code = 1


class Terminated(BaseException):
    """SIGTERM outside training (set-up, final evaluation): the run is recorded as failed, then the command exits.
    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way swallows it."""

    exit_code = 143  # 128 + SIGTERM, what the shell reports for a process SIGTERM ended

    def __init__(self) -> None:
        super().__init__("terminated by SIGTERM")
