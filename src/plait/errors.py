"""Errors meant for people: one line each; exit code 2 for bad input, 1 for a failed run."""

from __future__ import annotations

import os
from pathlib import Path


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


def check_writable_file(path: str | os.PathLike[str], what: str) -> None:
    """UserError naming `what` when a file cannot be written at `path`: its folder is a file, read-only or absent
    and not creatable, or the path is a folder. Checked before work whose result would be lost."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{what} {target}: is a folder; give a file path")
    check_writable_folder(target.parent, what)


def check_writable_folder(path: str | os.PathLike[str], what: str) -> None:
    """UserError naming `what` when `path` cannot be (made and) written into."""
    folder = Path(path)
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"{what} {folder}: {existing} is a file, not a folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{what} {folder}: {existing} is not writable (permission denied or read-only)")
