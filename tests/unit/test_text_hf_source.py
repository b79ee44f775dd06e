"""datasets.load_dataset sources: the nyu-mll/glue hub layout offline, local files, image and path columns."""

from __future__ import annotations

import io
import shutil

import pytest

from plait.data.builtin.glue_tasks import generate_glue
from plait.data.sources.hf import read_hf
from plait.data.text_config import HfSource
from plait.errors import UserError
from plait.glue.tasks import hf_source


@pytest.fixture(scope="module")
def glue_folder():
    return generate_glue(30, 12, seed=7, tasks=("cola", "mnli", "stsb"))


def test_hub_layout_loads_offline_with_glue_s_splits_labels_and_ids(glue_folder):
    splits = read_hf(hf_source("mnli", str(glue_folder)))
    assert {k: len(v) for k, v in splits.items()} == {"train": 30, "validation": 12, "test": 12}
    first = splits["validation"][0]
    assert first.id == "0" and first.target in ("entailment", "neutral", "contradiction")
    assert first.meta["text_pair"] and first.prompt.startswith("the ")
    test = read_hf(HfSource(path=str(glue_folder), name="cola", prompt_column="sentence", target_column="label"))
    assert {s.target for s in test["test"]} == {""}  # GLUE's hidden test labels (-1)
    stsb = read_hf(hf_source("stsb", str(glue_folder)))
    assert 0.0 <= float(stsb["train"][0].target) <= 5.0


def test_a_snapshot_without_its_dataset_card_still_loads(glue_folder, tmp_path):
    copy = tmp_path / "glue"
    shutil.copytree(glue_folder, copy)
    (copy / "README.md").unlink()
    assert len(read_hf(hf_source("cola", str(copy)))["train"]) == 30


def test_local_csv_with_a_path_column_and_a_missing_column_error(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "train.csv").write_text("text,label,file\nhello,pos,img/a.png\nbye,neg,img/b.png\n")
    source = HfSource(path="csv", data_files={"train": [str(tmp_path / "train.csv")]}, prompt_column="text",
                      target_column="label", image_column="file", media_root=tmp_path, splits={"validation": None,
                                                                                                 "test": None})
    samples = read_hf(source)["train"]
    assert [(s.prompt, s.target, s.media) for s in samples] == [("hello", "pos", tmp_path / "img/a.png"),
                                                               ("bye", "neg", tmp_path / "img/b.png")]
    bad = source.model_copy(update={"target_column": "labels"})
    with pytest.raises(UserError, match="data.source.target_column: 'labels' is not a column"):
        read_hf(bad)


def test_image_feature_bytes_are_stored_once_by_content(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (255, 0, 0)).save(buffer, format="PNG")
    table = datasets.Dataset.from_dict({"image": [{"bytes": buffer.getvalue(), "path": None}] * 2,
                                        "caption": ["red", "red again"]},
                                       features=datasets.Features({"image": datasets.Image(),
                                                                   "caption": datasets.Value("string")}))
    table.to_parquet(str(tmp_path / "train.parquet"))
    source = HfSource(path="parquet", data_files={"train": [str(tmp_path / "train.parquet")]},
                      target_column="caption", image_column="image", splits={"validation": None, "test": None})
    samples = read_hf(source)["train"]
    assert samples[0].media == samples[1].media and samples[0].media.read_bytes() == buffer.getvalue()
    assert Image.open(samples[0].media).size == (4, 4)
