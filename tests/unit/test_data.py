"""Data: deterministic built-in shapes, manifests, LLaVA JSON, screening of corrupt media."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from plait.data.builtin.shapes import COLORS, generate_shapes
from plait.data.dataset import screen
from plait.data.modalities.image import check_image
from plait.data.sample import Sample
from plait.data.sources.llava_json import read_llava_json
from plait.data.sources.manifest import read_manifest
from plait.errors import UserError


def test_shapes_are_deterministic_and_labelled(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "a"))
    first = generate_shapes(20, 2, 4, 32, seed=7)
    monkeypatch.setenv("PLAIT_CACHE", str(tmp_path / "b"))
    second = generate_shapes(20, 2, 4, 32, seed=7)
    assert (first / "train.jsonl").read_text() == (second / "train.jsonl").read_text()
    assert (first / "images" / "train-000003.png").read_bytes() == (second / "images" / "train-000003.png").read_bytes()
    rows = [json.loads(line) for line in (first / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 20
    for row in rows:
        assert row["answer"] == row[{"what color is the shape?": "color", "what shape is it?": "shape",
                                     "how big is the shape?": "size", "where is the shape?": "position"}[row["question"]]]
    large = next(r for r in rows if r["size"] == "large" and r["shape"] == "square")
    img = Image.open(first / large["image"]).convert("RGB")
    x = 8 if large["position"].endswith("left") else 24
    y = 8 if large["position"].startswith("top") else 24
    pixel = img.getpixel((x, y))
    assert all(abs(a - b) <= 20 for a, b in zip(pixel, COLORS[large["color"]]))


def test_manifest_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("image,question\nx.png,hi\n")
    with pytest.raises(UserError, match=r"m.csv: missing column 'target'; columns present: image, question"):
        read_manifest(path, "id", "image", "question", "target")


def test_llava_json_turns_become_samples(tmp_path):
    path = tmp_path / "llava.json"
    path.write_text(json.dumps([{
        "id": "a", "image": "img/a.png",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A cat."},
            {"from": "human", "value": "What colour?"}, {"from": "gpt", "value": "Black."},
        ],
    }]))
    samples = read_llava_json(path, None)
    assert [s.id for s in samples] == ["a-0", "a-1"]
    assert samples[0].prompt == "<image>\nWhat is it?" and samples[0].target == "A cat."
    assert samples[1].prompt == "<image>\nWhat is it?\nA cat.\nWhat colour?" and samples[1].target == "Black."
    assert samples[0].media == tmp_path / "img" / "a.png"


@pytest.fixture()
def corrupt_images(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:40])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    return good, truncated, empty, tmp_path / "missing.png"


def test_check_image_reasons(corrupt_images):
    good, truncated, empty, missing = corrupt_images
    assert check_image(good) is None
    assert check_image(truncated).startswith("unreadable image")
    assert check_image(empty) == "empty file"
    assert check_image(missing) == "missing file"


def test_screen_counts_and_threshold(corrupt_images):
    good, truncated, empty, missing = corrupt_images
    samples = [Sample(str(i), "q", "a", good) for i in range(17)] + [
        Sample("t", "q", "a", truncated), Sample("e", "q", "a", empty), Sample("m", "q", "a", missing)]
    check = lambda s: check_image(s.media)  # noqa: E731
    kept, reports = screen({"train": samples}, check, max_bad_fraction=0.2)
    assert len(kept["train"]) == 17
    report = reports["train"]
    assert (report.total, report.kept) == (20, 17)
    assert report.skipped == {"empty file": 1, "missing file": 1, "unreadable image (OSError)": 1} or (
        sum(report.skipped.values()) == 3 and report.skipped["missing file"] == 1)
    with pytest.raises(UserError, match=r"train split\): 3 of 20 samples unusable .*max_bad_fraction=0.1"):
        screen({"train": samples}, check, max_bad_fraction=0.1)
