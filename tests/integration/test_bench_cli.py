"""`plait bench` on a tiny experiment: both sides timed, figures printed and appended; bad flags exit 2."""

from __future__ import annotations

import json

from plait.cli import main
from tests.tiny import write_experiment


def test_bench_times_plait_and_the_reference_and_appends(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "cache"))
    path = write_experiment(tmp_path, "tiny", **{"train.padding_free": True})
    results = tmp_path / "RESULTS.md"
    assert main(["bench", str(path), "--steps", "4", "--warmup", "1", "--repeats", "1", "--append", str(results)]) == 0
    out = capsys.readouterr().out
    runs = [json.loads(line) for line in out.splitlines() if line.startswith('{"side"')]
    assert [r["side"] for r in runs] == ["plait", "reference"]
    for r in runs:
        assert r["steps"] == 3 and r["padding"] == 0.0 and r["tokens_per_s"] > 0 and r["peak_rss_mib"] > 0
        assert r["step_ms"] >= r["compute_ms"] and r["images_per_step"] == 8
    assert "plait / reference step time:" in out
    text = results.read_text()
    assert "### plait bench" in text and "no GPU (CPU only)" in text and "load average" in text
    assert "| plait |" in text and "| reference |" in text and "--set=train.padding_free=true" not in text
    assert f"`plait bench {path} --steps=4" in text
    assert not (tmp_path / "runs").exists()  # timing runs live in a temporary folder


def test_bench_rejects_a_warmup_as_long_as_the_run(tmp_path, capsys):
    path = write_experiment(tmp_path, "tiny")
    assert main(["bench", str(path), "--steps", "4", "--warmup", "4"]) == 2
    assert "--warmup 4 / --steps 4" in capsys.readouterr().err
