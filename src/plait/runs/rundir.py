"""The run-directory contract: the only link between training and everything after it."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from plait.runs import atomic

STATES = ("running", "finished", "failed", "preempted", "pruned")
COMPLETE_MARKER = "COMPLETE"


def runner_alive(status: dict[str, Any]) -> bool:
    """Whether the process a `running` status names is alive on this host (not this process, not a zombie)."""
    pid = status.get("pid")
    if status.get("state") != "running" or status.get("host") != socket.gethostname() or not pid or pid == os.getpid():
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

    def status(self) -> dict[str, Any]:
        """The status record ({} when absent)."""
        return atomic.read_json(self.status_file, default={})

    def update_status(self, **fields: Any) -> dict[str, Any]:
        """Merge fields into status.json and write it atomically."""
        record = self.status()
        if "state" in fields and fields["state"] not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {fields['state']!r}")
        record.update(fields, updated=now())
        atomic.write_json(self.status_file, record)
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
        return bool(self.status().get("dry_run"))


def create_run_dir(output_dir: str | Path, experiment: str, dry_run: bool = False) -> RunDir:
    """Make a new, empty run directory; never reuses an existing one."""
    parent = Path(output_dir) / experiment
    parent.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = "dryrun-" if dry_run else ""
    for _ in range(100):
        path = parent / f"{prefix}{stamp}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        run = RunDir(path)
        run.update_status(
            state="running", dry_run=dry_run, experiment=experiment, run_id=path.name,
            started=now(), host=socket.gethostname(), pid=os.getpid(), step=0, epoch=0.0,
        )
        return run
    raise RuntimeError(f"could not create a fresh run directory under {parent}")


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
