"""Export a text run: its model folder is already a transformers one, so the export is that folder without
plait's own records, loadable by AutoModelForCausalLM / ForMaskedLM / ForSequenceClassification."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

PLAIT_FILES = ("plait_model.json", "text_processor.json")
AUTO_CLASSES = {"causal_lm": "AutoModelForCausalLM", "masked_lm": "AutoModelForMaskedLM",
                "classification": "AutoModelForSequenceClassification"}


def export_model(folder: Path, target: Path) -> dict[str, Any]:
    """Copy the saved model to `target` (which must not exist); return what was written."""
    meta = json.loads((folder / "plait_model.json").read_text())
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(*PLAIT_FILES))
    return {"class": f"{meta.get('class')} (transformers.{AUTO_CLASSES[meta['task']]})", "adapter": None,
            "quantized_4bit": False, "auto_class": AUTO_CLASSES[meta["task"]], "task": meta["task"]}
