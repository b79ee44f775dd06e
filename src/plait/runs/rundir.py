"""The run-directory contract: the only link between training and everything after it."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from pydantic import ValidationError

from plait.errors import UserError
from plait.runs import atomic, lock
from plait.runs.status import CorruptStatus, RunState, RunStatus, check_fields, parse_status

STATES = tuple(s.value for s in RunState)
COMPLETE_MARKER = "COMPLETE"


def runner_alive(status: RunStatus) -> bool:
    """Whether the process a `running` status names is alive on this host (not this process, not a zombie)."""
    pid = status.pid
    if status.state != RunState.RUNNING or status.host != socket.gethostname() or not pid or pid == os.getpid():
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def now() -> str:
    """Current UTC time, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunDir:
    """Paths and small readers/writers of one run directory."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def env(self) -> Path:
        return self.path / "env.json"

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def init_weights(self) -> Path:
        """The weights as built, before the first step (written when train.save_init is on)."""
        return self.path / "init.safetensors"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions"

    @property
    def data_report(self) -> Path:
        return self.path / "data_report.json"

    @property
    def name(self) -> str:
        return self.path.name

    def status(self) -> RunStatus:
        """The status record (an empty one, state None, when absent); CorruptStatus when unreadable."""
        try:
            text = self.status_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return RunStatus()
        except (OSError, UnicodeDecodeError) as err:
            raise CorruptStatus(f"{self.status_file}: unreadable ({getattr(err, 'strerror', None) or err})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CorruptStatus(f"{self.status_file}: not valid JSON (line {err.lineno}: {err.msg})") from None
        return parse_status(data, str(self.status_file))

    def update_status(self, **fields: Any) -> RunStatus:
        """Merge fields into status.json and write it atomically; a key RunStatus lacks raises ValueError."""
        check_fields(fields)
        merged = {**self.status().model_dump(exclude_none=True), **fields, "updated": now()}
        try:
            record = RunStatus.model_validate(merged)
        except ValidationError as err:  # a bad value (a state not in RunState): a bug in the writer, not user input
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"status.json field {where}: {first['msg']} (got {first.get('input')!r})") from None
        atomic.write_json(self.status_file, record.to_json())
        return record

    def log(self, record: dict[str, Any]) -> None:
        """Append one event to metrics.jsonl."""
        atomic.append_jsonl(self.metrics, record)

    def eval_result(self, split: str) -> dict[str, Any] | None:
        """eval/<split>.json, or None."""
        return atomic.read_json(self.eval_dir / f"{split}.json")

    def complete_checkpoints(self) -> list[Path]:
        """Checkpoints whose completion marker exists, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        found = [
            p for p in self.checkpoints.iterdir()
            if p.is_dir() and p.name.startswith("step-") and (p / COMPLETE_MARKER).exists()
        ]
        return sorted(found, key=lambda p: int(p.name.split("-")[1]))

    @property
    def is_dry_run(self) -> bool:
        return self.status().dry_run

    @property
    def lock_file(self) -> Path:
        """The one-writer lock (plait.runs.lock); holds the last writer's pid."""
        return self.path / lock.LOCK_FILE


def create_run_dir(output_dir: str | Path, experiment: str, dry_run: bool = False, hold: bool = False) -> RunDir:
    """Make a new, empty run directory; never reuses an existing one. With `hold`, this process takes its lock
    before the status exists, so no `--resume` can pick it up meanwhile (a launcher whose ranks train passes
    False: rank 0 takes it)."""
    parent = Path(output_dir) / experiment
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"output_dir {output_dir}: {_blocking(parent)} is a file, not a folder") from None
    except PermissionError:
        raise UserError(f"output_dir {output_dir}: cannot create {parent} (permission denied)") from None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = "dryrun-" if dry_run else ""
    for _ in range(100):
        path = parent / f"{prefix}{stamp}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except PermissionError:
            raise UserError(f"output_dir {output_dir}: {parent} is not writable (permission denied)") from None
        run = RunDir(path)
        if hold:
            lock.acquire(path)
        run.update_status(
            state="running", dry_run=dry_run, experiment=experiment, run_id=path.name,
            started=now(), host=socket.gethostname(), pid=os.getpid(), step=0, epoch=0.0,
        )
        return run
    raise RuntimeError(f"could not create a fresh run directory under {parent}")


def _blocking(path: Path) -> Path:
    """The first part of `path` that exists as a file (what stands in the way of a folder)."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not part.is_dir():
            return part
    return path


def find_runs(roots: list[str | Path]) -> list[RunDir]:
    """Every run directory (a folder with status.json) at or under the given roots, sorted by path."""
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if (root / "status.json").exists():
            found.add(root.resolve())
            continue
        if root.is_dir():
            found.update(p.parent.resolve() for p in root.glob("**/status.json"))
    return [RunDir(p) for p in sorted(found)]
