"""The repeatability report of N runs: initial and final weights, losses, metrics, and a verdict."""

from __future__ import annotations

import statistics
from typing import Any

from plait.repro.losses import first_divergence, loss_series
from plait.errors import UserError
from plait.repro.weights import compare_files, describe, summary, weights_files
from plait.runs import atomic
from plait.runs.rundir import RunDir


def compare_to_first(runs: list[RunDir], step: int | None) -> dict[str, Any]:
    """Each run's weights (final, or at `step`; 0 = as built) against the first run's, tensor by tensor."""
    files, missing = [], []
    for run in runs:
        try:
            files.append(weights_files(run, step))
        except UserError:
            missing.append(run.name)
    if missing:
        return {"available": False, "missing": missing, "identical": None, "runs": []}
    root = (lambda r: r.model) if step is None else (lambda r: r.path)
    per_run = [{"run": i + 1, **summary(compare_files(files[0], f, root(runs[0]), root(run)))}
               for i, (run, f) in enumerate(zip(runs[1:], files[1:]), start=1)]
    identical = all(not r["differing"] for r in per_run)
    names = sorted({d["name"] for r in per_run for d in r["differing"]})
    largest = max((r["largest_abs_diff"] for r in per_run), default=0.0)
    return {"available": True, "identical": identical, "differing_tensors": names, "largest_abs_diff": largest,
            "runs": per_run}


def metric_stats(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation, min, max and range."""
    return {"values": values, "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "range": max(values) - min(values)}


def run_row(index: int, run: RunDir) -> dict[str, Any]:
    status = run.status()
    headline = status.headline
    return {"run": index, "path": str(run.path), "seed": atomic.read_json(run.env, {}).get("seed"),
            "state": status.state, "metric": headline.metric if headline else None,
            "score": headline.value if headline else None, "epoch": status.epoch, "step": status.step,
            "metrics": status.metrics}


def build_report(runs: list[RunDir], vary_seed: bool, experiment: str, repro_id: str,
                 seconds: float) -> dict[str, Any]:
    """Everything the markdown and JSON reports show, with the verdict."""
    rows = [run_row(i, run) for i, run in enumerate(runs, start=1)]
    initial = compare_to_first(runs, 0)
    final = compare_to_first(runs, None)
    series = [loss_series(r) for r in runs]
    divergence = first_divergence(series)
    keys = sorted({f"{split}.{name}" for row in rows for split, values in row["metrics"].items() for name in values})
    metrics = {}
    for key in keys:
        split, name = key.split(".", 1)
        values = [row["metrics"].get(split, {}).get(name) for row in rows]
        if all(isinstance(v, (int, float)) for v in values):
            metrics[key] = metric_stats(values)
    report = {
        "experiment": experiment, "repro_id": repro_id, "runs_requested": len(runs), "vary_seed": vary_seed,
        "seconds": round(seconds, 1), "runs": rows, "initial_weights": initial, "final_weights": final,
        "losses": {"events": [len(s) for s in series], "identical": divergence is None,
                   "first_divergence": divergence},
        "metrics": metrics,
    }
    report["reproducible"], report["verdict"] = verdict(report)
    return report


def verdict(report: dict[str, Any]) -> tuple[bool | None, str]:
    """(reproducible: True/False, or None when seeds were varied or runs did not finish; the sentence)."""
    runs = report["runs"]
    n = len(runs)
    unfinished = [r["run"] for r in runs if r["state"] != "finished"]
    if unfinished:
        return None, f"INCOMPLETE: run(s) {unfinished} did not finish; nothing can be concluded."
    initial, final, losses = report["initial_weights"], report["final_weights"], report["losses"]
    spread = _spread(report)
    if report["vary_seed"]:
        if initial["identical"]:
            return None, ("SUSPICIOUS: different seeds gave identical initial weights; the seed does not reach "
                          "the model." + spread)
        return None, f"SEEDS VARIED: initial weights differ, as they should.{spread}"
    if initial["available"] and not initial["identical"]:
        names = initial["differing_tensors"]
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        return False, (f"NOT REPRODUCIBLE: with the same seed the initial weights differ in {len(names)} tensor(s): "
                       f"{shown}. Those parts are built outside the seeded scope (before the seed is set, or "
                       f"from their own unseeded generator).{spread}")
    if not losses["identical"]:
        step = losses["first_divergence"]["step"]
        return False, (f"NOT REPRODUCIBLE: identical initial weights, but the losses diverge at step {step}: "
                       "training is non-deterministic (data order, dropout or kernels; on GPU try "
                       f"`deterministic: true`).{spread}")
    if final["available"] and not final["identical"]:
        return False, f"NOT REPRODUCIBLE: identical losses, but the final weights differ.{spread}"
    if any(s["range"] != 0 for s in report["metrics"].values()):
        return False, f"NOT REPRODUCIBLE: identical weights, but evaluation gives different metrics.{spread}"
    return True, (f"REPRODUCIBLE: the {n} runs are bit-identical: initial weights, every logged loss, "
                  "final weights and metrics.")


def _spread(report: dict[str, Any]) -> str:
    row = report["runs"][0]
    key = next((k for k in (f"test.{row['metric']}", f"validation.{row['metric']}") if k in report["metrics"]), None)
    if key is None:
        return ""
    s = report["metrics"][key]
    return f" {key}: mean {s['mean']:.4f}, std {s['std']:.4f}, range {s['range']:.4f}."


def render_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: a run table like the seed's, then weights, losses and metrics."""
    runs = report["runs"]
    metric = runs[0]["metric"] or "score"
    seeds = sorted({r["seed"] for r in runs}, key=str)
    lines = [f"# plait repro: {report['experiment']}", "",
             f"{len(runs)} runs, seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}, "
             f"{report['seconds']:.0f} s. Report id {report['repro_id']}.", "",
             f"| run | test score ({metric}) | stopped at epoch | steps | seed | state | run directory |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        score = f"{r['score']:.4f}" if isinstance(r["score"], (int, float)) else "-"
        lines.append(f"| {r['run']} | {score} | {r['epoch']} | {r['step']} | {r['seed']} | {r['state']} | {r['path']} |")
    key = f"test.{metric}"
    if key in report["metrics"]:
        s = report["metrics"][key]
        lines.append(f"| mean ± std | {s['mean']:.4f} ± {s['std']:.4f} | range {s['range']:.4f} | | | | |")
    lines += ["", "## Initial weights (checkpoint zero)", "", _weights_lines(report["initial_weights"]), "",
              "## Training losses", "", _loss_lines(report["losses"]), "",
              "## Final weights", "", _weights_lines(report["final_weights"]), "",
              "## Metrics", "", "| metric | mean | std | min | max | range |", "|---|---|---|---|---|---|"]
    for name, s in report["metrics"].items():
        lines.append(f"| {name} | {s['mean']:.4f} | {s['std']:.4f} | {s['min']:.4f} | {s['max']:.4f} | {s['range']:.4f} |")
    lines += ["", f"**Verdict:** {report['verdict']}", ""]
    return "\n".join(lines)


def _weights_lines(result: dict[str, Any]) -> str:
    if not result["available"]:
        return f"not compared: missing in run(s) {', '.join(result['missing'])}"
    if result["identical"]:
        tensors = result["runs"][0]["tensors"] if result["runs"] else 0
        return f"identical in every run ({tensors} tensors, compared with torch.equal)"
    return "\n".join(f"- run {r['run']} vs run 1: {describe(r)}" for r in result["runs"])


def _loss_lines(losses: dict[str, Any]) -> str:
    if losses["identical"]:
        return f"identical at every logged step ({losses['events'][0]} logged events per run, compared exactly)"
    d = losses["first_divergence"]
    where = f"step {d['step']}" + (f" (stage {d['stage']})" if d.get("stage") else "")
    shown = "; ".join(f"run {i + 1}: " + (", ".join(f"{k} {v[k]!r}" for k in d["keys"]) if v else "not logged")
                      for i, v in enumerate(d["values"]))
    return f"first diverge at {where}: {shown}"
