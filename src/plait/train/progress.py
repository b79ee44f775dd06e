"""What training shows a person: one live line (step, loss, learning rate, ETA) and a line per evaluation.

It takes the place of transformers' ProgressCallback and PrinterCallback, which write every log as a raw
`{'loss': ...}` dict between tqdm redraws. The full record stays in metrics.jsonl (RunRecorder) and the
trackers; this is only the view. The bar is rich's Progress (rich is what the rest of plait's CLI prints with).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from plait.core.trainer_imports import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

console = Console(stderr=True)


def short(values: dict[str, float]) -> str:
    """`loss 0.0123, exact_match 98.50` for a line of text."""
    return ", ".join(f"{k} {v:.4g}" if k == "loss" or abs(v) < 1 else f"{k} {v:.2f}" for k, v in values.items())


def warmup_note(warmup_steps: int, steps: int, key: str = "train") -> str | None:
    """Why a warm-up of `warmup_steps` does not fit the run's `steps` (known only once the data is counted)."""
    if warmup_steps < steps:
        return None
    return (f"{key}.schedule.warmup_steps ({warmup_steps}) is not shorter than the run ({steps} steps from "
            f"{key}.epochs): the learning rate is still rising when training ends; lower it, or train longer")


@contextlib.contextmanager
def counting(live: bool, description: str, total: int, out: Console | None = None) -> Iterator[Callable[[int], None]]:
    """A transient live line counting up to `total` (with `live`); yields the function that sets the count."""
    if not live:
        yield lambda done: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("eta"), TimeRemainingColumn(), console=out or console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)


class TrainingProgress(TrainerCallback):
    """A live progress line (with `live`), a summary after each in-training evaluation and at the end (rank 0)."""

    def __init__(self, live: bool, latest: Callable[[], tuple[int, dict[str, float]] | None],
                 stage: str | None = None, out: Console | None = None) -> None:
        self.live = live
        self.latest = latest
        self.stage = stage
        self.console = out or console
        self.bar: Progress | None = None
        self.task: Any = None
        self.loss: float | None = None
        self.shown_eval: int | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        if not state.is_world_process_zero or not self.live:
            return
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console,
        )
        self.bar.start()
        self.task = self.bar.add_task(f"train{f' {self.stage}' if self.stage else ''}", total=state.max_steps,
                                      completed=state.global_step, stats="")

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        self.loss = float(logs["loss"])
        if self.bar is not None:
            lr = logs.get("learning_rate")
            stats = f"loss {self.loss:.4g}" + (f"  lr {float(lr):.2e}" if lr is not None else "")
            self.bar.update(self.task, stats=stats)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step)
        found = self.latest()
        if found is not None and found[0] == state.global_step and self.shown_eval != found[0]:
            self.shown_eval = found[0]
            where = f"{self.stage} " if self.stage else ""
            self.console.print(f"[bold]validation[/] {where}step {found[0]}/{state.max_steps}: {short(found[1])}",
                               highlight=False)

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        """Stop the live line however training ends (on_train_end is not called when it raises)."""
        try:
            yield
        finally:
            if self.bar is not None:
                self.bar.stop()
                self.bar = None

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step)
            self.bar.stop()
            self.bar = None
        loss = f", last loss {self.loss:.4g}" if self.loss is not None else ""
        where = f" {self.stage}" if self.stage else ""
        self.console.print(f"[bold]trained[/]{where}: {state.global_step} steps, epoch {state.epoch or 0:.2f}{loss}",
                           highlight=False)
