"""Errors meant for people: one line each, exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a file, field or flag that is wrong, and what would be right."""

    exit_code = 2

    def __init__(self, *lines: str) -> None:
        self.lines = [line for line in lines if line]
        super().__init__("\n".join(self.lines))


class ConfigError(UserError):
    """One or more problems in an experiment; all are reported at once."""
