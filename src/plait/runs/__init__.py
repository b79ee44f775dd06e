"""Run directories: creation, atomic writes, environment capture, listing."""

from plait.runs.rundir import RunDir, create_run_dir, find_runs

__all__ = ["RunDir", "create_run_dir", "find_runs"]
