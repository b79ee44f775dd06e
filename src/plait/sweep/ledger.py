"""Who runs which trial: claiming the next trial, and finding trials whose worker died.

Every trial takes one of the sweep's `n_trials` slots, except a trial whose worker died and that was
queued again (its retry takes the slot). Claims and reaping happen under one file lock in the sweep
folder, so parallel workers never start more trials than asked, and a dead trial is retried once.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import optuna
import psutil
from optuna.trial import TrialState

from plait.runs.rundir import RunDir, now, runner_alive
from plait.runs.status import CorruptStatus
from plait.sweep.trial import trial_runs

WORKER = "plait_worker"
"""{host, pid, created}: the process that runs the trial."""
HEARTBEAT = "plait_heartbeat"
"""Unix time the worker last reported; how a trial on another host is known to be alive."""
RETRY_OF = "plait_retry_of"
"""On a retry: the number of the trial whose worker died."""
OUTCOME = "plait_outcome"
"""Why a trial failed: 'worker died' or the error."""
RUNS = "plait_runs"
"""The trial's run directories."""
DIED = "worker died"


def worker_identity() -> dict[str, Any]:
    """This process, as recorded on the trials it runs."""
    return {"host": socket.gethostname(), "pid": psutil.Process().pid, "created": psutil.Process().create_time()}


def is_alive(worker: dict[str, Any]) -> bool:
    """Whether a worker on this host still runs (a reused pid or a zombie does not count)."""
    try:
        process = psutil.Process(worker["pid"])
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - worker["created"]) < 1.0
    except psutil.NoSuchProcess:
        return False


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the sweep's claim lock (released by the OS if the holder dies)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "claim.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_dead(trial: optuna.trial.FrozenTrial, stale_after_s: float) -> bool:
    """A running trial whose worker is gone; call under the lock (a claim there always records its worker)."""
    worker = trial.user_attrs.get(WORKER)
    if worker is None:
        return True  # asked but never claimed: its worker died inside the lock
    if worker["host"] == socket.gethostname():
        return not is_alive(worker)
    return time.time() - trial.user_attrs.get(HEARTBEAT, 0.0) > stale_after_s


def reap(study: optuna.Study, stale_after_s: float, runs_dir: Path, resuming: bool = False) -> list[int]:
    """Mark trials of dead workers failed and queue one retry each with the same parameters; return their numbers.

    Within one invocation a retry whose worker dies too is not retried again (a configuration that kills
    its worker must not loop). `resuming` (plait sweep --resume, after the whole sweep died) gives every
    died trial without a retry one more attempt, retries included: the sweep's death killed them, not
    their configuration.
    """
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs[RETRY_OF] for t in trials if RETRY_OF in t.user_attrs}
    dead = [t for t in trials if t.state == TrialState.RUNNING and is_dead(t, stale_after_s)]
    earlier = [t for t in trials if resuming and t.state == TrialState.FAIL and t.user_attrs.get(OUTCOME) == DIED]
    for trial in [*dead, *earlier]:
        # queue the retry before failing the trial, so a reaper dying in between leaves nothing unretried
        first_attempt = RETRY_OF not in trial.user_attrs
        if trial.number not in retried and (first_attempt or resuming) and trial.params:
            study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number}, skip_if_exists=False)
    for trial in dead:
        handle = optuna.trial.Trial(study, trial._trial_id)
        handle.set_user_attr(OUTCOME, DIED)
        study.tell(trial.number, state=TrialState.FAIL)
        for run in trial_runs(runs_dir, study.study_name, trial.number):
            if run.status().state == "running":
                run.update_status(state="failed", error="the sweep worker running it died", finished=now())
    abandon_orphans(runs_dir)
    return [t.number for t in dead] + [t.number for t in earlier if t.number not in retried and t.params]


def abandon_orphans(runs_dir: Path) -> None:
    """Mark failed the running run directories of dead processes on this host (killed before they were tagged)."""
    for status_file in runs_dir.glob("*/*/status.json") if runs_dir.is_dir() else []:
        run = RunDir(status_file.parent)
        try:
            status = run.status()
        except CorruptStatus:
            continue  # not this sweep's to repair; `plait ls` shows it as unreadable
        if status.state == "running" and status.host == socket.gethostname() and not runner_alive(status):
            run.update_status(state="failed", error="the sweep worker running it died",
                                                     finished=now())


def counted(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials that take a slot: all but those replaced by a retry, and those whose worker died before they began."""
    replaced = {t.user_attrs[RETRY_OF] for t in trials if RETRY_OF in t.user_attrs}
    return [t for t in trials if t.number not in replaced
            and not (t.state == TrialState.FAIL and t.user_attrs.get(OUTCOME) == DIED and not t.params)]


def claim(study: optuna.Study, n_trials: int, folder: Path, stale_after_s: float, runs_dir: Path,
          suggest: Callable[[optuna.Trial], dict[str, Any]],
          sampler_for: Callable[[int], Any] | None = None) -> tuple[optuna.Trial, dict[str, Any]] | None:
    """The next trial for this worker (a queued retry first) and its parameters, or None when every slot is taken.

    `sampler_for(number)` gives the sampler for the trial about to be numbered `number` (seeded by it).
    """
    with locked(folder):
        reap(study, stale_after_s, runs_dir)
        trials = study.get_trials(deepcopy=False)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        if not waiting and len(counted(trials)) >= n_trials:
            return None
        if sampler_for is not None:
            study.sampler = sampler_for(len(trials))  # under the lock, the next trial gets exactly this number
        trial = study.ask()
        params = suggest(trial)
        trial.set_user_attr(HEARTBEAT, time.time())
        trial.set_user_attr(WORKER, worker_identity())
        return trial, params


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials that take a slot, by state ('complete', 'pruned', 'fail', 'running', 'waiting')."""
    found: dict[str, int] = {}
    for t in counted(study.get_trials(deepcopy=False)):
        found[t.state.name.lower()] = found.get(t.state.name.lower(), 0) + 1
    return found
