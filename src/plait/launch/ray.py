"""`plait sweep --launcher ray`: each of the sweep's trials is a Ray Tune trial on a Ray cluster.

Optuna still chooses the parameters and keeps the ledger (the sweep's journal), so the trials land
in the same run directories as local workers'. A trial that fails is retried by Ray (FailureConfig)
with the same parameters, up to `max_retries` times. (`plait run --launcher ray`, one run as a Ray
Train job, is in ray_run.py; both join the cluster through connect().)
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from plait.errors import UserError
from plait.config.launch import RayConfig

FORWARDED_ENV = ("PLAIT_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")
"""Environment variables the driver hands to Ray's workers (cache folders, offline switches)."""


def retry_depth(trial: Any, by_number: dict[int, Any]) -> int:
    """How many failed attempts came before this trial (following plait_retry_of back)."""
    from plait.sweep.ledger import RETRY_OF

    depth = 0
    while RETRY_OF in trial.user_attrs:
        depth += 1
        trial = by_number[trial.user_attrs[RETRY_OF]]
    return depth


def one_trial(config: dict[str, Any], sweep: dict[str, Any], where: str, plan: Any, cwd: str,
              max_retries: int) -> dict[str, Any]:
    """Ray Tune trainable: claim one slot of the sweep and run it; raise (so Ray retries) when it fails."""
    import optuna
    from optuna.trial import TrialState

    from plait.sweep import backend, ledger
    from plait.sweep.config import SweepConfig
    from plait.sweep.load import trial_count
    from plait.sweep.space import suggest
    from plait.sweep.trial import run_trial
    from plait.sweep.worker import heartbeat

    os.chdir(cwd)  # the sweep's relative paths (runs, storage) mean the same on every worker
    cfg = SweepConfig.model_validate(sweep)
    study = backend.load_study(cfg, where)
    folder = plan.runs_dir.parent
    claimed = ledger.claim(study, trial_count(cfg, where), folder, cfg.stale_after_s, plan.runs_dir,
                           lambda t: suggest(t, cfg.space))
    if claimed is None:
        return {"state": "none"}
    trial, params = claimed
    try:
        with heartbeat(trial, min(60.0, cfg.stale_after_s / 4)):
            outcome = run_trial(plan, trial.number, params, None)
    except Exception as err:  # noqa: BLE001 - any error is the trial's failure, retried below
        outcome = None
        error = f"{type(err).__name__}: {err}"
    else:
        error = outcome.error
    if outcome is not None and outcome.state == "complete":
        trial.set_user_attr(ledger.RUNS, outcome.runs)
        trial.set_user_attr("values", outcome.values)
        study.tell(trial, outcome.value)
        return {"state": "complete", "value": outcome.value, "trial": trial.number}
    if outcome is not None and outcome.state == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
        return {"state": "pruned", "trial": trial.number}
    with ledger.locked(folder):
        trials = {t.number: t for t in study.get_trials(deepcopy=False)}
        if retry_depth(trials[trial.number], trials) < max_retries:  # Ray retries; the retry claims these params
            study.enqueue_trial(params, user_attrs={ledger.RETRY_OF: trial.number}, skip_if_exists=False)
        handle = optuna.trial.Trial(study, trial._trial_id)
        handle.set_user_attr(ledger.OUTCOME, error)
        study.tell(trial.number, state=TrialState.FAIL)
    raise RuntimeError(f"trial {trial.number} failed: {error}")


def check_reachable(address: str | None) -> None:
    """Fail in seconds when nothing listens at a HOST:PORT address (ray.init retries for minutes)."""
    if address is None or address in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT or auto, e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        raise UserError(f"--address {address}: no Ray cluster answers there ({err.strerror or err}); "
                        "start one with `ray start --head` and give the address it prints") from None


def connect(address: str | None, log_to_driver: bool = False) -> str:
    """Join the Ray cluster at `address` (None: a local Ray instance); return its address."""
    try:
        import ray
    except ImportError:
        raise UserError("--launcher ray needs ray[tune]: pip install 'plait[cluster]'") from None

    # "local", not None: None would also join whatever cluster Ray last recorded in /tmp/ray, even a dead one
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    check_reachable(address)
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}
    try:
        ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=log_to_driver,
                 ignore_reinit_error=True)
    except ConnectionError as err:
        raise UserError(f"--address {address}: no Ray cluster there ({err}); "
                        "start one with `ray start --head`") from None
    return ray.get_runtime_context().gcs_address


def run_trials(sweep: dict[str, Any], where: str, plan: Any, n_trials: int, ray_cfg: RayConfig,
               storage: Path) -> list[str]:
    """Run `n_trials` Ray Tune trials of the sweep; return each trial's end state as Ray saw it."""
    from ray import tune

    connect(ray_cfg.address)
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    trainable = tune.with_parameters(one_trial, sweep=sweep, where=where, plan=plan, cwd=os.getcwd(),
                                     max_retries=ray_cfg.max_retries)
    resources = {"cpu": ray_cfg.cpus_per_trial, "gpu": ray_cfg.gpus_per_trial}
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        tune_config=tune.TuneConfig(num_samples=n_trials),
        run_config=tune.RunConfig(name=f"{sweep['name']}-{int(time.time())}", storage_path=str(storage.resolve()),
                                  failure_config=tune.FailureConfig(max_failures=ray_cfg.max_retries), verbose=0),
    )
    results = tuner.fit()
    return ["error" if result.error else "ok" for result in results]
