"""Which process of a distributed run this is, and the run directory every rank shares."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plait.runs.rundir import RunDir
from plait.runs.status import RunStatus, check_fields

RUN_DIR_ENV = "PLAIT_RUN_DIR"
"""Set by a launcher: the run directory it created, which every rank of the run uses."""


def rank() -> int:
    """Global rank (0 outside a distributed launch)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Processes in the run (1 outside a distributed launch)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process writes the run directory (rank 0)."""
    return rank() == 0


def launched_rank() -> bool:
    """Whether a distributed launcher (torchrun, Ray Train) started this process as one rank of a run."""
    # torchrun and Ray Train's TorchTrainer both set LOCAL_RANK (torchrun also its run id)
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ


@dataclass(frozen=True)
class FollowerRunDir(RunDir):
    """The run directory as a non-zero rank sees it: same paths (checkpoints, RNG states), no record writes."""

    def update_status(self, **fields: Any) -> RunStatus:
        check_fields(fields)  # a bug is a bug on every rank
        return self.status()

    def log(self, record: dict[str, Any]) -> None:
        return None


def launched_run_dir() -> RunDir | None:
    """The run directory a launcher created for this process (None: create one)."""
    path = os.environ.get(RUN_DIR_ENV)
    if not path:
        return None
    return RunDir(Path(path)) if is_main_process() else FollowerRunDir(Path(path))


def leave_process_group() -> None:
    """Under torchrun, destroy this rank's process group (Ray Train tears down its own)."""
    dist = sys.modules.get("torch.distributed")
    if "TORCHELASTIC_RUN_ID" in os.environ and dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def end_launched_rank(code: int) -> int:
    """`code`, or, in a torchrun rank whose run is recorded, leave at once with it: a rank that goes through
    interpreter shutdown can abort in the C++ threads of torch's libraries ("terminate called without an active
    exception", exit -6) after its work is done, and torchrun then reports the whole run as failed. Everything
    plait writes is written synchronously by now; streams are flushed before leaving."""
    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return code
    leave_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def announce_rank() -> None:
    """One line per process, so that the log shows every rank of a distributed run."""
    local = os.environ.get("LOCAL_RANK", "0")
    print(f"plait: rank {rank()}/{world_size()} (local rank {local}, pid {os.getpid()})", file=sys.stderr, flush=True)
