"""Experiment tracking: a run's metrics.jsonl, resolved config and directory, mirrored to TensorBoard, W&B, MLflow.

transformers' TensorBoardCallback, WandbCallback and MLflowCallback (checked) send only the Trainer's own logs,
at each stage's own step, and end their runs at `on_train_end`, before plait scores the held-out splits. So
plait sends what its run directory holds instead: every numeric record of metrics.jsonl (training, validation,
test, at the global step) as it is written, the resolved config, and the run directory's path, through each
library's own client. The Trainer keeps `report_to="none"`.

Offline use is each library's own: TensorBoard writes event files into <run>/tensorboard; `WANDB_MODE=offline`
keeps W&B's run in <run>/wandb; `MLFLOW_TRACKING_URI=file:///path` (or sqlite:///...) picks MLflow's store.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from plait.runs.ranks import is_main_process
from plait.runs.rundir import RunDir

SKIPPED = {"step", "global_step", "stage_step"}


def scalars(record: dict[str, Any]) -> tuple[int, dict[str, float]] | None:
    """A metrics.jsonl record as (global step, {"split/metric": value}); None for events and records without numbers."""
    split = record.get("split")
    if not isinstance(split, str) or split == "event":
        return None
    step = int(record.get("global_step", record.get("step", 0)) or 0)
    values = {f"{split}/{k}": float(v) for k, v in record.items()
              if k not in SKIPPED and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return (step, values) if values else None


class Backend:
    """One tracker: opened with the run's config, fed (step, values), closed with the run's outcome."""

    def log(self, step: int, values: dict[str, float]) -> None:
        raise NotImplementedError

    def close(self, failed: bool) -> None:
        raise NotImplementedError


class TensorBoard(Backend):
    """Event files in <run>/tensorboard (torch's SummaryWriter, which needs the tensorboard package)."""

    def __init__(self, run: RunDir, name: str, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = run.path / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.folder))
        self.writer.add_text("plait/run_dir", str(run.path.resolve()), 0)
        self.writer.add_text("plait/config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def log(self, step: int, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self, failed: bool) -> None:
        self.writer.close()


class Wandb(Backend):
    """One W&B run per plait run, its files in <run>/wandb; WANDB_MODE=offline keeps it local."""

    def __init__(self, run: RunDir, name: str, config: dict[str, Any]) -> None:
        import wandb

        self.wandb = wandb
        self.last = -1
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "plait"), name=f"{name}/{run.path.name}",
                              dir=str(run.path), config={**config, "plait_run_dir": str(run.path.resolve())},
                              tags=[f"{k}={v}"[:64] for k, v in (config.get("tags") or {}).items()],
                              reinit="finish_previous")
        self.run.summary["plait_run_dir"] = str(run.path.resolve())

    def log(self, step: int, values: dict[str, float]) -> None:
        # W&B's steps only go forward; a record at an earlier step (an event's) joins the current one
        if step >= self.last:
            self.last = step
            self.run.log(values, step=step)
        else:
            self.run.log(values)

    def close(self, failed: bool) -> None:
        self.run.finish(exit_code=1 if failed else 0)


class MLflow(Backend):
    """One MLflow run in the store MLFLOW_TRACKING_URI names, the config as params and as an artifact."""

    def __init__(self, run: RunDir, name: str, config: dict[str, Any]) -> None:
        import mlflow

        self.mlflow = mlflow
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", name))
        self.active = mlflow.start_run(run_name=run.path.name, tags={"plait.run_dir": str(run.path.resolve())})
        mlflow.log_params({k: str(v)[:500] for k, v in flatten(config).items()})
        mlflow.log_dict(config, "plait_config.json")

    def log(self, step: int, values: dict[str, float]) -> None:
        self.mlflow.log_metrics(values, step=step, run_id=self.active.info.run_id)

    def close(self, failed: bool) -> None:
        self.mlflow.end_run(status="FAILED" if failed else "FINISHED")


BACKENDS: dict[str, type[Backend]] = {"tensorboard": TensorBoard, "wandb": Wandb, "mlflow": MLflow}


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class Mirror:
    """Sends metrics.jsonl's new complete lines to the backends, from a background thread and once more at close."""

    def __init__(self, run: RunDir, backends: list[Backend], interval: float = 2.0, start_at_end: bool = False) -> None:
        self.run = run
        self.backends = backends
        self.interval = interval
        self.offset = run.metrics.stat().st_size if start_at_end and run.metrics.exists() else 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="plait-tracking", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.sync()

    def sync(self) -> None:
        """Send the records written since the last call."""
        with self.lock:
            path = self.run.metrics
            if not path.exists():
                return
            with open(path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next call
            self.offset += end
            for line in chunk[:end].splitlines():
                try:
                    found = scalars(json.loads(line))
                except ValueError:
                    continue
                if found:
                    for backend in self.backends:
                        backend.log(*found)

    def close(self, failed: bool) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        self.sync()
        for backend in self.backends:
            backend.close(failed)


@contextlib.contextmanager
def tracked(run: RunDir, name: str, config: dict[str, Any], report_to: list[str],
            resuming: bool = False, interval: float = 2.0) -> Iterator[None]:
    """Mirror the run to the trackers in `report_to` while the block runs (nothing when it is empty)."""
    if not report_to:
        yield
        return
    backends = [BACKENDS[kind](run, name, config) for kind in report_to]
    mirror = Mirror(run, backends, interval, start_at_end=resuming)
    mirror.start()
    failed = True
    try:
        yield
        failed = False
    finally:
        mirror.close(failed)



def tracked_experiment(exp: Any, run: RunDir, resuming: bool = False) -> contextlib.AbstractContextManager[None]:
    """`tracked` for an experiment's run, on rank 0 only (the other ranks of a distributed run write nothing)."""
    if not is_main_process():
        return contextlib.nullcontext()
    return tracked(run, exp.name, exp.model_dump(mode="json"), exp.train.report_to, resuming)
