"""Pre-emption: SIGTERM or SIGUSR2 turns into a complete checkpoint at the next step boundary.

Schedulers (SLURM, Kubernetes, submitit) send one of these signals before killing a job. The run
then writes a checkpoint, marks itself `preempted` and the command exits with PREEMPTED_EXIT, so a
requeued `plait run EXP --resume` continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

import torch

from plait.core.trainer_imports import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from plait.errors import Terminated
from plait.runs.ranks import world_size

PREEMPTED_EXIT = 75
"""Exit code of a pre-empted run (EX_TEMPFAIL: temporary failure, try again)."""
SIGNALS = (signal.SIGTERM, signal.SIGUSR2)


@contextlib.contextmanager
def terminations_raised() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated (so the status says what happened) instead of killing the
    process silently; during training Preemption takes the signal over and checkpoints instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        signal.signal(signum, previous)  # a second SIGTERM while the failure is recorded ends the process
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Preemption(TrainerCallback):
    """Records a pre-emption signal; at the next optimizer step asks the Trainer to save and stop."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self.stopped_at: int | None = None
        self._previous: dict[int, Any] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator["Preemption"]:
        """Handle the signals while the block runs (main thread only; elsewhere they keep their handlers)."""
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
                # restart system calls the signal interrupts: a collective (gloo, NCCL's host side) or a data
                # loader read failing with EINTR would turn a pre-emption into a crash
                signal.siginterrupt(sig, False)
        try:
            yield self
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal = signal.Signals(signum).name
        if world_size() > 1:
            # a rank can get the signal twice (from the scheduler and from torchrun forwarding it); the
            # launcher, not the rank, decides when to stop waiting for the checkpoint
            return
        # a second signal does what it did before plait took it over (by default: terminate now)
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def _requested(self, args: TrainingArguments) -> bool:
        """Whether any rank got a signal; ranks must agree, or the ones that stop leave the others hanging."""
        wanted = self.signal is not None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([int(wanted)], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            wanted = bool(flag.item())
        return wanted

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.stopped_at is None and self._requested(args):
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
