"""One writer per run directory: a second writer is refused with the holder's pid; a dead holder's lock is
taken over; an orphaned sweep worker stops; SIGTERM during set-up leaves a failed status saying so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import plait
from plait.runs import lock
from plait.runs.rundir import RunDir, create_run_dir

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(plait.__file__).parents[1]), str(ROOT)])}

HOLD = textwrap.dedent("""
    import sys, time
    from plait.runs import lock
    lock.acquire(sys.argv[1])
    print("held", flush=True)
    time.sleep(60)
""")


def holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline().strip() == "held", proc.stderr.read()
    return proc


def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holders_lock_is_taken(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "exp")  # hold=False: nobody holds it yet
    proc = holder(run.path)
    try:
        with pytest.raises(lock.RunLocked, match=f"another process \\(pid {proc.pid}\\) is writing"):
            lock.acquire(run.path)
        with pytest.raises(lock.RunLocked, match=f"pid {proc.pid}"):
            lock.refuse_if_held(run.path, "--resume")
        assert lock.locked_by_other(run.path)
    finally:
        proc.kill()
        proc.wait()
    assert not lock.locked_by_other(run.path)  # the kernel dropped the dead process's lock
    lock.acquire(run.path)
    try:
        assert lock.held(run.path) and lock.holder(run.path) == os.getpid()
        lock.acquire(run.path)  # again in the same process: a no-op
    finally:
        lock.release(run.path)
    assert not lock.held(run.path)


def test_create_run_dir_can_hold_the_new_directory(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "exp", hold=True)
    try:
        assert lock.held(run.path) and run.lock_file.read_text().strip() == str(os.getpid())
    finally:
        lock.release(run.path)


ORPHAN = textwrap.dedent("""
    import multiprocessing, sys, time

    def worker(path):
        from plait.sweep.worker import driver_gone, stop_with_driver
        stop_with_driver()
        open(path, "w").write(str(multiprocessing.current_process().pid))
        while not driver_gone():
            time.sleep(60)  # a trial in training: only the signal wakes it

    if __name__ == "__main__":
        child = multiprocessing.get_context("spawn").Process(target=worker, args=(sys.argv[1],))
        child.start()
        child.join()
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_sweep_worker_stops_when_its_driver_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    script = tmp_path / "driver.py"  # spawn re-imports the worker's function from a file
    script.write_text(ORPHAN)
    driver = subprocess.Popen([sys.executable, str(script), str(pid_file)],
                              env=ENV)
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    worker = psutil.Process(int(pid_file.read_text()))
    driver.kill()  # SIGKILL: the driver can tell nobody
    driver.wait()
    worker.wait(timeout=30)  # not our child, so no exit code: that it ended is the point (TimeoutExpired if not)
    assert not worker.is_running()


@pytest.mark.parametrize("where, phase", [("seed_everything", "set-up"), ("evaluate_run_splits", "final evaluation")])
def test_sigterm_outside_training_records_a_failed_status(tmp_path: Path, monkeypatch, capsys, where, phase) -> None:
    import plait.pipeline as pipeline
    from plait.cli import main
    from tests.tiny import write_experiment

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the model is set up, or evaluated after training

    monkeypatch.setattr(pipeline, where, terminated)
    exp = write_experiment(tmp_path, **{"data.source.train_size": 8, "data.source.test_size": 2,
                                        "train.max_steps": 1})
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or what an earlier library (ray.init) installed
    assert main(["run", str(exp), "--no-progress"]) == 143
    (path,) = (tmp_path / "runs" / "tiny").iterdir()
    status = RunDir(path).status()
    assert status.state == "failed" and status.error == f"terminated during {phase}" and status.finished
    assert not lock.held(path) and "terminated by SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # plait's handler is gone with the run
