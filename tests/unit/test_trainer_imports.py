"""transformers' Trainer is imported without peft and bitsandbytes until a model gets LoRA (or 4 bits)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import plait.train.loop, plait.data.mix
import transformers.trainer as trainer, transformers.trainer_utils as trainer_utils
import accelerate.optimizer, accelerate.utils.imports, functools
seen = {"before": sorted(m for m in ("peft", "bitsandbytes") if m in sys.modules),
        "check_before": [trainer.is_peft_available(), trainer_utils.is_peft_available()]}
lomo = accelerate.optimizer.is_lomo_available
seen_lomo = [isinstance(lomo, functools._lru_cache_wrapper), lomo() == accelerate.utils.imports.is_lomo_available()]
if sys.argv[1] == "lora":
    from torch import nn
    from plait.models.components.peft import add_lora
    model = nn.Sequential(nn.Linear(4, 4))
    wrapped = add_lora(model, 2, 4.0, 0.0, ["0"], "model.lora")
    seen["after"] = sorted(m for m in ("peft", "bitsandbytes") if m in sys.modules)
    seen["check_after"] = [trainer.is_peft_available(), trainer_utils.is_peft_available()]
    seen["recognised"] = [trainer_utils._is_peft_model(wrapped), trainer_utils._is_peft_model(model),
                          isinstance(wrapped, trainer.PeftModel)]
if sys.argv[1] == "lomo":
    seen = {"lomo": seen_lomo}
print(json.dumps(seen))
"""


def probe(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_training_modules_load_without_peft_or_bitsandbytes():
    seen = probe("plain")
    assert seen == {"before": [], "check_before": [False, False]}


def test_lora_hands_the_trainer_peft_back():
    seen = probe("lora")
    assert seen["before"] == []
    assert "peft" in seen["after"]
    assert seen["check_after"] == [True, True]
    assert seen["recognised"] == [True, False, True]


def test_accelerates_per_step_package_probe_is_answered_once():
    assert probe("lomo") == {"lomo": [True, True]}
