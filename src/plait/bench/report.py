"""Benchmark figures as text: the machine they came from, medians, and Markdown sections for RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

COLUMNS = {
    "step_ms": "step ms", "compute_ms": "compute ms", "wait_ms": "data+loop ms", "cpu_ms": "CPU ms",
    "samples_per_s": "samples/s", "tokens_per_s": "tokens/s", "padding": "padding", "peak_rss_mib": "peak RSS MiB",
    "peak_gpu_mib": "peak GPU MiB", "mfu": "MFU",
}


def machine() -> str:
    """One line: CPU, cores, Python, torch, accelerator (or that there is none), and the load average now."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU (CPU only)"
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
            f"{device}, load average {load()}")


def load() -> str:
    """The 1-minute load average (other processes competing for the cores)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per-figure median over repeated runs."""
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    return {k: statistics.median(r[k] for r in rows) for k in keys}


def fmt(key: str, value: float) -> str:
    if key in ("padding", "mfu"):
        return f"{100 * value:.1f}%"
    return f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"


def table(rows: dict[str, dict[str, float]], extra: dict[str, dict[str, str]] | None = None) -> str:
    """A Markdown table: one row per label, the known figure columns present in every row, then extra columns."""
    keys = [k for k in COLUMNS if all(k in r for r in rows.values())]
    extra = extra or {}
    extra_keys = list(dict.fromkeys(k for cols in extra.values() for k in cols))
    head = ["", *(COLUMNS[k] for k in keys), *extra_keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, row in rows.items():
        cells = [label, *(fmt(k, row[k]) for k in keys), *(extra.get(label, {}).get(k, "") for k in extra_keys)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(title: str, command: str, body: str, notes: list[str] | None = None, load_before: str = "") -> str:
    """A dated RESULTS.md section: machine, command, figures and notes."""
    lines = [f"### {title} ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"- machine: {machine()}" + (f" (at start: {load_before})" if load_before else ""),
             f"- command: `{command}`", "", body, ""]
    lines += [f"- {n}" for n in notes or []]
    return "\n".join(lines).rstrip() + "\n\n"


def append(path: Path, text: str) -> None:
    """Append a section to a results file (created with a title if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("# Benchmark results\n\n")
    with open(path, "a") as f:
        f.write(text)


def to_json(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures rounded for printing."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}
