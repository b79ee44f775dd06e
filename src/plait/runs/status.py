"""status.json as a typed record: one model, the states as an enum, every key plait writes.

status.json is the most stable interface in the project (`plait ls`, sweeps, launchers, summaries read
it), so it is written and read only through `RunDir.status()` / `RunDir.update_status(**fields)`:

- a write names only fields of `RunStatus`; an unknown key is a bug in plait and raises `ValueError`;
- a read validates the file; files written before this model (the same keys, untyped) load unchanged;
  a key this version does not know (written by a newer plait) is kept in `extra`, never dropped;
- a file that is not JSON or does not fit the model raises `CorruptStatus`, a UserError naming the file
  (`plait ls` shows such a run as unreadable and goes on).

Families and features with figures of their own have a home without a schema change: `sparsity`
(e.g. a RigL or pruning family's density per layer) and `cache` (e.g. a feature cache's hits) are free
mappings; anything else goes under `extra` (`run.update_status(extra={**run.status().extra, "k": v})`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from plait.errors import UserError


class RunState(StrEnum):
    """Where a run stands. `running` may be stale: `plait.runs.rundir.runner_alive` checks the process."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    PREEMPTED = "preempted"
    PRUNED = "pruned"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, protected_namespaces=())


class Headline(_Record):
    """The score `plait ls` shows."""

    metric: str | None = None
    """Metric name (eval.headline)."""
    value: float | None = None
    """Its value on the test split (else validation); None when not evaluated."""


class Best(_Record):
    """The best in-training validation."""

    metric: str | None = None
    """train.metric."""
    best: float | None = None
    """Its best value."""
    best_step: int | None = None
    """The step it was reached at."""


class Resume(_Record):
    """One `plait run --resume` of the run."""

    at: str
    """When (ISO 8601, UTC)."""
    from_step: int
    """The checkpoint's step (0: from the start)."""
    pid: int | None = None
    """The resuming process."""
    env_changed: list[str] = []
    """env.json sections that differ from the first start (packages, devices, git)."""
    forced: list[str] = []
    """Config changes that matter, accepted with --force ('key: old -> new')."""


class StageRecord(_Record):
    """One finished (or pre-empted) training stage."""

    name: str
    """stages[].name."""
    trainable: list[str] = []
    """Parameter groups it trained."""
    trainable_parameters: int | None = None
    """How many parameters that was."""
    steps: int = 0
    """Optimizer steps it took."""
    preempted: bool = False
    """It stopped on a pre-emption signal."""


class Launcher(_Record):
    """How a launcher ran the run (torchrun, ray)."""

    kind: str
    """torchrun or ray."""
    world_size: int | None = None
    """Processes in the run."""
    nproc_per_node: int | None = None
    """torchrun: processes per node."""
    nnodes: int | None = None
    """torchrun: nodes."""
    address: str | None = None
    """ray: the cluster address."""
    num_workers: int | None = None
    """ray: Ray Train workers."""


class Job(_Record):
    """A scheduler job (SLURM through submitit)."""

    launcher: str | None = None
    """slurm."""
    id: str | None = None
    """The job id."""
    state: str | None = None
    """Its last known state (SUBMITTED, RUNNING, PREEMPTED, REQUEUED, COMPLETED, FAILED...)."""
    logs: str | None = None
    """The folder of its logs."""


class NonFinite(_Record):
    """Where training went non-finite (see plait.train.nonfinite)."""

    step: int
    """The optimizer step (1-based) whose batch gave it."""
    reason: str
    """`loss` or `grad_norm`, and the value."""
    samples: list[str] = []
    """Ids of the samples in the offending batch."""


class FeatureCacheRecord(_Record):
    """Whether the run trains on the frozen encoder's cached outputs, and the numbers it decided from
    (plait.train.feature_plan). A resumed run keeps this decision."""

    decision: Literal["on", "off"]
    """on: training samples carry cached encoder outputs; off: they carry pixels and the encoder runs."""
    setting: str
    """model.vision.cache_features as given: auto, true or false."""
    reason: str
    """Why, one line."""
    inputs: int | None = None
    """Training samples with an image (each epoch encodes them all without the cache)."""
    missing: int | None = None
    """Distinct training inputs with no entry on disk when training began (entries on disk cost nothing)."""
    probe_images: int | None = None
    """Inputs the timing probe ran through the encoder (auto only)."""
    fill_s_estimated: float | None = None
    """Estimated seconds to compute and store the missing entries: missing x the probe's seconds per input."""
    saving_s_per_epoch_estimated: float | None = None
    """Estimated seconds one epoch saves: inputs x (the probe's encoder seconds per input - reading an entry)."""
    epochs: float | None = None
    """Epochs the run trains (every stage's, when the run has stages)."""
    fill_s_measured: float | None = None
    """Seconds the probe and the fill took (on only)."""
    computed: int | None = None
    """Entries computed by the probe and the fill (on only)."""


class RunStatus(_Record):
    """The whole of status.json. Every field is optional: a record fills in as the run goes."""

    state: RunState | None = None
    """running, finished, failed, preempted or pruned (None: no status file)."""
    dry_run: bool = False
    """A `--dry-run` run (hidden by `plait ls` unless asked)."""
    experiment: str | None = None
    """The experiment's name."""
    run_id: str | None = None
    """The run directory's name."""
    started: str | None = None
    """When the run directory was made (ISO 8601, UTC)."""
    updated: str | None = None
    """When this record was last written."""
    finished: str | None = None
    """When the run ended (finished, failed or pruned)."""
    preempted: str | None = None
    """When it stopped on a pre-emption signal."""
    host: str | None = None
    """The host of the process that owns the run."""
    pid: int | None = None
    """That process (None: none yet, e.g. a queued SLURM job)."""
    step: int = 0
    """Optimizer steps done (of the current stage)."""
    epoch: float = 0.0
    """Epochs done."""
    max_steps: int | None = None
    """Steps the Trainer will take (of the current stage)."""
    tags: dict[str, str] = {}
    """The experiment's tags (sweeps and repro add theirs)."""
    error: str | None = None
    """Why the run failed, one line."""
    nonfinite: NonFinite | None = None
    """Set when a non-finite loss or gradient stopped the run."""
    nonfinite_skipped: int = 0
    """Batches skipped for a non-finite loss or gradient (train.skip_nonfinite)."""
    pruned_step: int | None = None
    """The step a sweep's pruner stopped the run at."""
    checkpoint: str | None = None
    """The checkpoint a pre-empted run resumes from (relative to the run directory)."""
    best: Best | None = None
    """The best in-training validation."""
    averaged_checkpoints: list[int] = []
    """Steps of the checkpoints averaged into the saved weights (train.average_checkpoints)."""
    stopped_early: bool = False
    """Early stopping ended training before max_steps."""
    train_seconds: float | None = None
    """Seconds from start to the saved model."""
    seconds: float | None = None
    """Seconds from start to the end of evaluation."""
    metrics: dict[str, dict[str, float | None]] = {}
    """{split: {metric: value}} of the final evaluation."""
    headline: Headline | None = None
    """The score `plait ls` shows."""
    resumes: list[Resume] = []
    """Each resume of the run, in order."""
    stage: str | None = None
    """The stage training now (stages runs)."""
    stage_index: int | None = None
    """Its index in `stages`."""
    global_step: int | None = None
    """Steps done across every finished stage (stages runs; metrics.jsonl's global_step)."""
    stages: list[StageRecord] = []
    """Stages done so far."""
    launcher: Launcher | None = None
    """How a launcher ran it (torchrun, ray)."""
    job: Job | None = None
    """The scheduler job it runs in (slurm)."""
    sparsity: dict[str, Any] | None = None
    """Sparsity figures a family or callback records (free-form: density per layer, masks updated...)."""
    cache: dict[str, Any] | None = None
    """Cache figures a family records (free-form: hits, misses, folder...)."""
    feature_cache: FeatureCacheRecord | None = None
    """The frozen-encoder feature cache's decision for this run, with the numbers behind it."""
    extra: dict[str, Any] = {}
    """Anything else a family writes, and keys a newer plait wrote that this one does not know."""

    @model_validator(mode="before")
    @classmethod
    def _keep_unknown(cls, data: Any) -> Any:
        """Keys this version does not know (a newer plait wrote them) are kept in `extra`, not dropped."""
        if not isinstance(data, dict):
            return data
        unknown = {k: v for k, v in data.items() if k not in cls.model_fields}
        if not unknown:
            return data
        known = {k: v for k, v in data.items() if k in cls.model_fields}
        return {**known, "extra": {**(known.get("extra") or {}), **unknown}}

    def to_json(self) -> dict[str, Any]:
        """The record as written to status.json (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


class CorruptStatus(UserError):
    """status.json cannot be read (not JSON, or not a status record)."""


def check_fields(fields: dict[str, Any]) -> None:
    """Raise ValueError on a key RunStatus does not have: writing one is a bug in plait, not user input."""
    unknown = sorted(set(fields) - set(RunStatus.model_fields))
    if unknown:
        raise ValueError(f"status.json has no field {', '.join(unknown)}; add it to plait.runs.status.RunStatus "
                         "(or write family figures under `sparsity`, `cache` or `extra`)")


def parse_status(data: Any, source: str) -> RunStatus:
    """A status record from parsed JSON; CorruptStatus naming `source` when it does not fit."""
    if not isinstance(data, dict):
        raise CorruptStatus(f"{source}: not a status record (a JSON {type(data).__name__}, expected an object)")
    try:
        return RunStatus.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CorruptStatus(f"{source}: {where}: {first['msg']}") from None
