"""CC-3M and Localized Narratives read as released; failed downloads and missing images are counted, not fatal."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from PIL import Image

from plait.data.config import DataConfig
from plait.data.dataset import load_splits, screen
from plait.errors import UserError
from plait.data.modalities.image import check_optional_image as check

CAPTIONS = [("a dog running on the beach .", "http://a/1.jpg"), ("sunset over the sea , with boats !", "http://b/2.jpg"),
            ("a page that is gone", "http://c/3.jpg"), ("a web page , not an image", "http://d/4.html"),
            ("a cat on a mat", "http://e/5.jpg"), ("a file the downloader lost", "http://f/6.jpg")]
# file, folder, mimetype, size, status, url -- as the issue gives the report's columns
REPORT = [("training/111", "training", "image/jpeg", "100", "200", "http://a/1.jpg"),
          ("training/222", "training", "image/png", "100", "200", "http://b/2.jpg"),
          ("", "training", "", "", "404", "http://c/3.jpg"),
          ("training/444", "training", "text/html", "100", "200", "http://d/4.html"),
          ("training/555", "training", "image/jpeg", "100", "200", "http://e/5.jpg"),
          ("training/666", "training", "image/jpeg", "100", "200", "http://f/6.jpg")]


def write_cc3m(folder: Path, report=REPORT, gz: bool = False) -> dict:
    (folder / "training").mkdir(parents=True, exist_ok=True)
    for name in ("111", "222", "555"):
        Image.new("RGB", (8, 8), "red").save(folder / "training" / name, format="PNG")
    (folder / "training" / "444").write_text("<html></html>")
    (folder / "Train_GCC-training.tsv").write_text("".join(f"{c}\t{u}\n" for c, u in CAPTIONS))
    text = "".join("\t".join(r) + "\n" for r in report)
    report_path = folder / ("downloaded_training_report.tsv" + (".gz" if gz else ""))
    if gz:
        with gzip.open(report_path, "wt") as f:
            f.write(text)
    else:
        report_path.write_text(text)
    return {"kind": "cc3m", "train": {"captions": str(folder / "Train_GCC-training.tsv"), "report": str(report_path)}}


@pytest.mark.parametrize("gz", [False, True])
def test_failed_downloads_are_counted_not_fatal(tmp_path: Path, gz: bool) -> None:
    data = DataConfig.model_validate({"source": write_cc3m(tmp_path, gz=gz), "max_bad_fraction": 0.6})
    splits = load_splits(data, seed=0)
    assert len(splits["train"]) == 6
    kept, reports = screen(splits, check, data.max_bad_fraction)
    report = reports["train"]
    assert (report.total, report.kept) == (6, 3)
    assert report.skipped == {"download failed (status 404)": 1, "missing file": 1, "not an image (text/html)": 1}
    assert [s.target for s in kept["train"]] == ["a dog running on the beach.", "sunset over the sea, with boats!",
                                                 "a cat on a mat"]
    assert kept["train"][0].media == tmp_path / "training" / "111"


def test_too_many_failures_stop_with_the_reasons(tmp_path: Path) -> None:
    data = DataConfig.model_validate({"source": write_cc3m(tmp_path)})
    with pytest.raises(UserError, match="download failed \\(status 404\\): 1.*max_bad_fraction"):
        screen(load_splits(data, seed=0), check, data.max_bad_fraction)


def test_a_report_out_of_step_is_an_error(tmp_path: Path) -> None:
    swapped = [REPORT[1], REPORT[0], *REPORT[2:]]
    data = DataConfig.model_validate({"source": write_cc3m(tmp_path, report=swapped)})
    with pytest.raises(UserError, match="row 1: url .* out of step"):
        load_splits(data, seed=0)
    data = DataConfig.model_validate({"source": write_cc3m(tmp_path, report=REPORT[:-1])})
    with pytest.raises(UserError, match="5 rows but .* has 6"):
        load_splits(data, seed=0)


def test_later_downloader_column_order(tmp_path: Path) -> None:
    later = [(r[5], r[1], r[4], r[2], r[3], r[0], "{}") for r in REPORT]  # url, folder, status, mimetype, size, file, headers
    source = write_cc3m(tmp_path, report=later) | {
        "report_columns": ["url", "folder", "status", "mimetype", "size", "file", "headers"]}
    data = DataConfig.model_validate({"source": source, "max_bad_fraction": 0.6})
    _, reports = screen(load_splits(data, seed=0), check, 0.6)
    assert reports["train"].kept == 3


def test_localized_narratives_coco_and_open_images_names(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 8), "blue").save(images / "000000137576.jpg")
    Image.new("RGB", (8, 8), "blue").save(images / "0a1b2c3d.jpg")
    lines = [{"dataset_id": "mscoco_val2017", "image_id": "137576", "annotator_id": 93,
              "caption": "In this image\xa0there are  cows.", "timed_caption": [], "traces": [], "voice_recording": ""},
             {"dataset_id": "open_images_validation", "image_id": "0a1b2c3d", "annotator_id": 1,
              "caption": "A car.", "timed_caption": [], "traces": [], "voice_recording": ""},
             {"dataset_id": "open_images_validation", "image_id": "ffff", "annotator_id": 2,
              "caption": "An image nobody downloaded.", "timed_caption": [], "traces": [], "voice_recording": ""}]
    path = tmp_path / "ln.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    source = {"kind": "localized_narratives", "train": {"annotations": str(path), "images": str(images)}}
    data = DataConfig.model_validate({"source": source, "max_bad_fraction": 0.5})
    kept, reports = screen(load_splits(data, seed=0), check, 0.5)
    assert reports["train"].skipped == {"missing file": 1}
    assert [s.media.name for s in kept["train"]] == ["000000137576.jpg", "0a1b2c3d.jpg"]
    assert kept["train"][0].target == "In this image there are cows."
    assert kept["train"][0].id == "mscoco_val2017/137576/93"
    path.write_text(json.dumps({"dataset_id": "x", "image_id": "1"}) + "\n")
    with pytest.raises(UserError, match="line 1: missing annotator_id, caption"):
        load_splits(data, seed=0)
