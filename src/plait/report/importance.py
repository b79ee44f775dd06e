"""Parameter importance from run directories: Optuna's fANOVA over an in-memory study rebuilt from the runs."""

from __future__ import annotations

from typing import Any

from plait.report.table import Column, Group, sort_key

LOG_SPAN = 100.0
"""A positive numeric parameter whose largest value is at least this many times its smallest is read as log-scaled."""


def log_scaled(groups: list[Group]) -> set[str]:
    """Searched keys whose values span two decades or more (learning rates, weight decay...)."""
    keys = list(groups[0].values) if groups else []
    out = set()
    for key in keys:
        values = [g.values[key] for g in groups]
        if all(sort_key(v)[0] == 0 for v in values) and min(values) > 0 and max(values) / min(values) >= LOG_SPAN:
            out.add(key)
    return out


def importances(groups: list[Group], column: Column, seed: int = 0) -> dict[str, float] | str:
    """{key: importance} of each searched key for `column`, or a sentence saying why there is none."""
    try:
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution
    except ImportError:
        return "parameter importance needs optuna: pip install 'plait[sweep]'"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    keys = list(groups[0].values) if groups else []
    if not keys:
        return "no parameter varies between the runs"
    rows = [(g.values, column.value(r)) for g in groups for r in g.runs if column.value(r) is not None]
    if len({tuple(sorted(map(str, values.items()))) for values, _ in rows}) < 2:
        return "fewer than two finished configurations"
    if len({value for _, value in rows}) < 2:
        return f"{column.label} is the same in every finished run"
    logs = log_scaled(groups)
    distributions: dict[str, Any] = {}
    for key in keys:
        seen = [g.values[key] for g in groups]
        if all(sort_key(v)[0] == 0 for v in seen):
            distributions[key] = FloatDistribution(float(min(seen)), float(max(seen)), log=key in logs)
        else:
            distributions[key] = CategoricalDistribution(sorted({str(v) for v in seen}))
    study = optuna.create_study(direction="minimize" if column.lower_is_better else "maximize")
    for values, value in rows:
        params = {k: (float(v) if isinstance(distributions[k], FloatDistribution) else str(v))
                  for k, v in values.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    result = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    return {k: float(v) for k, v in sorted(result.items())}
