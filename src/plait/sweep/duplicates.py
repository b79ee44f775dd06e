"""A configuration drawn again is not trained again: the trial takes the earlier trial's result.

Random and TPE samplers over choice lists can propose a configuration that already ran (Optuna's FAQ
recommends exactly this reuse). Same parameters and the same seeds give the same runs, so the repeat
copies the earlier trial's intermediate values and its value (or its pruning) instead of training.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

from plait.sweep.ledger import RUNS

SAME_AS = "plait_same_as"
"""On a repeated configuration: the number of the trial whose result it took."""


def earlier_result(study: optuna.Study, params: dict[str, Any]) -> optuna.trial.FrozenTrial | None:
    """The first complete or pruned trial with exactly these parameters, or None."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    same = [t for t in done if t.params == params]
    return min(same, key=lambda t: t.number) if same else None


def reuse(study: optuna.Study, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial) -> None:
    """End `trial` with `earlier`'s result: its intermediate values, then its value or its pruning."""
    for step, value in sorted(earlier.intermediate_values.items()):
        trial.report(value, step)
    trial.set_user_attr(SAME_AS, earlier.number)
    for key in (RUNS, "values"):
        if key in earlier.user_attrs:
            trial.set_user_attr(key, earlier.user_attrs[key])
    if earlier.state == TrialState.COMPLETE:
        study.tell(trial, earlier.value)
    else:
        study.tell(trial, state=TrialState.PRUNED)
