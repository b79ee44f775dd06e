"""Sweep workers: each claims trials until every slot is taken; several run as separate processes."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator

import optuna
from optuna.trial import TrialState

from plait.errors import Terminated
from plait.sweep import duplicates, ledger
from plait.sweep.space import Space, suggest
from plait.sweep.trial import TrialPlan, run_trial
from plait.train.callbacks import Pruned

PR_SET_PDEATHSIG = 1
"""prctl option: the signal the kernel sends this process when its parent dies (linux/prctl.h)."""


@contextlib.contextmanager
def heartbeat(trial: optuna.Trial, every_s: float) -> Iterator[None]:
    """Record that this worker is alive every `every_s` seconds while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            with contextlib.suppress(Exception):  # a missed beat only delays, never breaks, the trial
                trial.set_user_attr(ledger.HEARTBEAT, time.time())

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def pruning_hook(trial: optuna.Trial, metric: str) -> Any:
    """Report each in-training validation value to Optuna and stop the run when the pruner says so."""

    def on_validation(step: int, values: dict[str, float]) -> None:
        if metric not in values:
            return
        trial.report(float(values[metric]), step)
        if trial.should_prune():
            raise Pruned(step)

    return on_validation


def work(study: optuna.Study, plan: TrialPlan, space: Space, n_trials: int, stale_after_s: float,
         prune: bool, sampler_for: Callable[[int], Any] | None = None, skip_duplicates: bool = True) -> int:
    """Claim and run trials until none is left; return how many this worker ended."""
    folder = plan.runs_dir.parent
    done = 0
    while True:
        if driver_gone():  # an orphaned worker claims nothing more; the next `plait sweep --resume` retries
            return done
        claimed = ledger.claim(study, n_trials, folder, stale_after_s, plan.runs_dir, lambda t: suggest(t, space),
                               sampler_for)
        if claimed is None:
            return done
        trial, params = claimed
        earlier = duplicates.earlier_result(study, params) if skip_duplicates else None
        if earlier is not None:
            duplicates.reuse(study, trial, earlier)
            done += 1
            continue
        with heartbeat(trial, min(60.0, stale_after_s / 4)):
            outcome = run_trial(plan, trial.number, params, pruning_hook(trial, plan.metric) if prune else None)
        trial.set_user_attr(ledger.RUNS, outcome.runs)
        if driver_gone():  # SIGTERM from the dying driver cut the trial short: a resumed sweep runs it again
            trial.set_user_attr(ledger.OUTCOME, ledger.DIED)
            study.tell(trial, state=TrialState.FAIL)
            return done
        if outcome.state == "complete":
            trial.set_user_attr("values", outcome.values)
            study.tell(trial, outcome.value)
        elif outcome.state == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
        else:
            trial.set_user_attr(ledger.OUTCOME, outcome.error)
            study.tell(trial, state=TrialState.FAIL)
        done += 1


_DRIVER: int | None = None
"""The sweep process that started this worker (None: the worker is the sweep's own process)."""


def driver_gone() -> bool:
    """Whether the sweep process that started this worker has died (the worker was re-parented)."""
    return _DRIVER is not None and os.getppid() != _DRIVER


def stop_with_driver() -> None:
    """Have the kernel send this process SIGTERM when its driver dies (Linux prctl PR_SET_PDEATHSIG); a trial
    in training then checkpoints as preempted, and `work` claims no further trial. Elsewhere `work`'s own
    check between trials is all there is."""
    global _DRIVER
    parent = multiprocessing.parent_process()  # the driver's pid as the driver knew it, not who adopted us since
    _DRIVER = parent.pid if parent is not None else os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != _DRIVER:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def worker_main(run_sweep: Any, args: tuple[Any, ...], threads: int) -> None:
    """Entry point of a worker process (spawned: nothing of the parent's torch state is shared)."""
    import torch

    stop_with_driver()
    torch.set_num_threads(threads)  # N workers share the cores instead of each taking all of them
    try:
        run_sweep(*args)
    except Terminated:  # the driver died during a trial's set-up; its run says so, and the trial is retried
        sys.exit(Terminated.exit_code)


def launch(count: int, target: Any, args: tuple[Any, ...], threads: int) -> list[int]:
    """Run `count` worker processes to the end; return their exit codes (negative: killed by that signal).
    This process only watches: a worker's death is reported, never shared."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=worker_main, args=(target, args, threads), name=f"plait-sweep-{i}")
                 for i in range(count)]
    for process in processes:
        process.start()
    pending = {p.sentinel: p for p in processes}
    while pending:
        for sentinel in wait(list(pending)):
            pending.pop(sentinel).join()  # joined at once, so a dead worker is no zombie that looks alive
    return [p.exitcode for p in processes]
