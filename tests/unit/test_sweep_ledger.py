"""The sweep ledger: parallel claims never exceed n_trials; a dead worker's trial is failed and retried once with
the same parameters; pruning hooks turn Optuna's verdict into Pruned. No training here."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from plait.runs.rundir import create_run_dir
from plait.sweep import ledger
from plait.sweep.backend import KeepGoingGrid
from plait.sweep.config import ChoiceParam, FloatParam
from plait.sweep.space import suggest
from plait.sweep.worker import pruning_hook
from plait.train.callbacks import Pruned

SPACE = {"train.lr": FloatParam(low=1e-4, high=1e-2, log=True), "train.grad_accum": ChoiceParam(values=[1, 2])}


def journal_study(folder, sampler=None):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    return optuna.create_study(study_name="s", storage=storage, sampler=sampler or optuna.samplers.RandomSampler(0),
                               load_if_exists=True)


def claim(study, folder, n_trials=3):
    return ledger.claim(study, n_trials, folder, 600, folder / "runs", lambda t: suggest(t, SPACE))


def dead_worker() -> dict:
    """The identity of a process that has exited (and been waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return {"host": socket.gethostname(), "pid": child.pid, "created": 0.0}


def test_claims_stop_at_n_trials_counting_running_ones(tmp_path):
    study = journal_study(tmp_path)
    claimed = [claim(study, tmp_path) for _ in range(4)]
    assert [c is None for c in claimed] == [False, False, False, True]
    assert ledger.counts(study) == {"running": 3}
    trial, params = claimed[0]
    assert set(params) == set(SPACE) and trial.user_attrs[ledger.WORKER]["pid"] == os.getpid()
    study.tell(trial, 1.0)
    assert claim(study, tmp_path) is None  # still 3 slots taken: 1 complete + 2 running


def test_dead_worker_trial_is_failed_and_retried_once_with_the_same_parameters(tmp_path):
    study = journal_study(tmp_path)
    trial, params = claim(study, tmp_path)
    run = create_run_dir(tmp_path / "runs", "tiny")
    run.update_status(tags={"sweep": "s", "trial": str(trial.number)})
    trial.set_user_attr(ledger.WORKER, dead_worker())
    retry, retry_params = claim(study, tmp_path)  # the claim reaps first, then pops the queued retry
    assert study.trials[trial.number].state == TrialState.FAIL
    assert study.trials[trial.number].user_attrs[ledger.OUTCOME] == ledger.DIED
    assert retry_params == params and retry.user_attrs[ledger.RETRY_OF] == trial.number
    assert run.status().state == "failed" and "worker running it died" in run.status().error
    assert ledger.counts(study) == {"running": 1}  # the retry takes the dead trial's slot
    retry.set_user_attr(ledger.WORKER, dead_worker())  # the retry dies too: no third attempt
    ledger.reap(study, 600, tmp_path / "runs")
    assert ledger.counts(study) == {"fail": 1}
    assert not [t for t in study.trials if t.state == TrialState.WAITING]
    resumed = ledger.reap(study, 600, tmp_path / "runs", resuming=True)  # --resume: the sweep's death killed it
    assert resumed == [retry.number] and ledger.counts(study) == {"waiting": 1}
    again, again_params = claim(study, tmp_path)
    assert again_params == params and again.user_attrs[ledger.RETRY_OF] == retry.number
    assert ledger.reap(study, 600, tmp_path / "runs", resuming=True) == []  # nothing dead, nothing queued twice
    assert len([claim(study, tmp_path) for _ in range(2)]) == 2 and ledger.counts(study) == {"running": 3}


def test_a_zombie_or_a_reused_pid_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        import psutil

        identity = {"host": socket.gethostname(), "pid": child.pid, "created": psutil.Process(child.pid).create_time()}
        assert ledger.is_alive(identity)
        assert not ledger.is_alive(identity | {"created": identity["created"] - 100})
        os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.5)  # killed, not yet waited for: a zombie
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
        assert not ledger.is_alive(identity)
    finally:
        child.kill()
        child.wait()


def test_trials_on_another_host_are_judged_by_their_heartbeat(tmp_path):
    study = journal_study(tmp_path)
    trial, _ = claim(study, tmp_path)
    trial.set_user_attr(ledger.WORKER, {"host": "elsewhere", "pid": 1, "created": 0.0})
    assert not ledger.is_dead(study.trials[0], stale_after_s=60)
    trial.set_user_attr(ledger.HEARTBEAT, time.time() - 120)
    assert ledger.is_dead(study.trials[0], stale_after_s=60)


def test_grid_claims_cover_the_grid_without_repeats(tmp_path):
    study = journal_study(tmp_path, KeepGoingGrid({"train.grad_accum": [1, 2], "train.lr": [1e-3, 1e-2]}, seed=0))
    space = {"train.grad_accum": ChoiceParam(values=[1, 2]), "train.lr": ChoiceParam(values=[1e-3, 1e-2])}
    seen = []
    while (got := ledger.claim(study, 4, tmp_path, 600, tmp_path / "runs", lambda t: suggest(t, space))) is not None:
        seen.append(tuple(sorted(got[1].items())))
        study.tell(got[0], 0.0)
    assert len(seen) == 4 and len(set(seen)) == 4


def test_pruning_hook_reports_and_raises_pruned(tmp_path):
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=50.0))
    trial = study.ask()
    hook = pruning_hook(trial, "exact_match")
    hook(10, {"exact_match": 60.0, "loss": 1.0})
    with pytest.raises(Pruned) as stop:
        hook(20, {"exact_match": 40.0, "loss": 1.0})
    assert stop.value.step == 20
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {10: 60.0, 20: 40.0}


def test_parallel_workers_with_one_seed_draw_different_points_reproducibly(tmp_path):
    def two_workers(folder):
        first, second = journal_study(folder), journal_study(folder)  # two processes' views of one study
        return [ledger.claim(study, 4, folder, 600, folder / "runs", lambda t: suggest(t, SPACE),
                             lambda n: optuna.samplers.RandomSampler(seed=7 + n))[1] for study in (first, second)]

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    drawn = two_workers(tmp_path / "a")
    assert drawn[0]["train.lr"] != drawn[1]["train.lr"]
    assert two_workers(tmp_path / "b") == drawn


def test_a_configuration_drawn_again_takes_the_earlier_result_without_training():
    from plait.sweep import duplicates

    study = optuna.create_study(direction="maximize")
    for x in (1, 1, 2, 2):
        study.enqueue_trial({"x": x})

    def draw():
        trial = study.ask()
        return trial, {"x": trial.suggest_categorical("x", [1, 2])}

    first, params = draw()
    first.report(3.0, 10)
    first.set_user_attr(ledger.RUNS, ["runs/a"])
    study.tell(first, 5.0)
    again, same = draw()
    assert same == params and duplicates.earlier_result(study, same).number == 0
    duplicates.reuse(study, again, duplicates.earlier_result(study, same))
    done = study.trials[1]
    assert done.state == TrialState.COMPLETE and done.value == 5.0 and done.intermediate_values == {10: 3.0}
    assert done.user_attrs == {duplicates.SAME_AS: 0, ledger.RUNS: ["runs/a"]}
    pruned, other = draw()
    assert duplicates.earlier_result(study, other) is None
    pruned.report(1.0, 10)
    study.tell(pruned, state=TrialState.PRUNED)
    repeat, _ = draw()
    duplicates.reuse(study, repeat, duplicates.earlier_result(study, other))
    assert study.trials[3].state == TrialState.PRUNED and study.trials[3].intermediate_values == {10: 1.0}
