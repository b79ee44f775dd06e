"""Wall time, peak memory and held-out score of the quickstart experiment, run as a user would.

    python benchmarks/quickstart.py [--repeat N] [--append]

Runs `plait run experiments/quickstart.yaml` in a subprocess and appends a row to RESULTS.md with --append.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plait.runs.rundir import RunDir

ROOT = Path(__file__).resolve().parent.parent


def measure(output_dir: Path) -> dict:
    """One quickstart run: seconds, peak resident memory of the run (MiB), score and run directory."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "plait", "run", "experiments/quickstart.yaml", "--no-progress",
         "--set", f"output_dir={output_dir}"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    status_file = max(output_dir.glob("quickstart/*/status.json"), key=lambda p: p.stat().st_mtime)
    status = RunDir(status_file.parent).status()
    return {"seconds": round(seconds, 1), "peak_mib": round(peak_mib), "score": status.headline.value,
            "metric": status.headline.metric, "train_seconds": status.train_seconds, "steps": status.step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="number of runs")
    parser.add_argument("--append", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            rows.append(measure(Path(tmp) / str(i)))
            print(json.dumps(rows[-1]))
    if args.append:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
        lines = [f"| {time.strftime('%Y-%m-%d')} | {machine} | {r['steps']} | {r['train_seconds']} | {r['seconds']} "
                 f"| {r['peak_mib']} | {r['metric']} {r['score']:.1f} |" for r in rows]
        with open(ROOT / "benchmarks" / "RESULTS.md", "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
