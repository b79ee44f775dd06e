"""transformers' Trainer modules, imported without peft (and bitsandbytes) until a run uses LoRA or 4 bits;
accelerate's per-step package probe answered once (see _answer_once).

transformers.trainer_utils and transformers.trainer import peft at module level whenever peft is installed
(`if is_peft_available(): from peft import PeftModel`), only to recognise peft-wrapped models; peft in turn
imports bitsandbytes. That is 2.3 s of a 5 s start-up and a bitsandbytes warning on runs that use neither.
transformers has no switch for it (checked in 5.24: trainer_utils, trainer, utils.import_utils), so plait
imports those two modules (and re-exports the Trainer names plait uses) with `is_peft_available` answering False, which is true of every model until
`peft_in_trainer` runs: the LoRA and 4-bit builders call it (plait.models.components.peft), and it hands
both modules peft's classes and the real check back. Imported for its effect by the modules that subclass
or use the Trainer: they import its names from here.
"""

from __future__ import annotations

import sys


def _no_peft() -> bool:
    return False


def _defer() -> None:
    if "transformers.trainer_utils" in sys.modules or "transformers.trainer" in sys.modules:
        return  # imported already, with whatever peft it found
    import transformers.utils as utils

    real = utils.is_peft_available
    utils.is_peft_available = _no_peft
    try:
        import transformers.trainer  # noqa: F401  (imports trainer_utils too)
    finally:
        utils.is_peft_available = real


def peft_in_trainer() -> None:
    """Let the Trainer recognise peft models from now on (idempotent; nothing to do if it always could)."""
    import transformers.trainer as trainer
    import transformers.trainer_utils as trainer_utils

    if trainer_utils.is_peft_available is not _no_peft:
        return
    from peft import PeftMixedModel, PeftModel
    from transformers.utils import is_peft_available

    trainer_utils.PeftModel, trainer_utils.PeftMixedModel = PeftModel, PeftMixedModel
    trainer.PeftModel = PeftModel
    for module in (trainer_utils, trainer):
        module.is_peft_available = is_peft_available


_defer()


def _answer_once() -> None:
    """accelerate 1.15's AcceleratedOptimizer.step asks `is_lomo_available()` (an importlib find_spec of
    lomo_optim) twice on every optimizer step: 0.26 ms, about 2% of a small model's CPU step. Whether a
    package is installed does not change while a process runs, so its module gets the answer cached."""
    import functools

    import accelerate.optimizer as accelerated

    if not isinstance(accelerated.is_lomo_available, functools._lru_cache_wrapper):
        accelerated.is_lomo_available = functools.cache(accelerated.is_lomo_available)


_answer_once()

from transformers import (  # noqa: E402  (after the deferral above)
    Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments, enable_full_determinism, set_seed,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback  # noqa: E402
from transformers.trainer_pt_utils import LengthGroupedSampler  # noqa: E402

__all__ = ["LengthGroupedSampler", "PrinterCallback", "ProgressCallback", "Trainer", "TrainerCallback",
           "TrainerControl", "TrainerState", "TrainingArguments", "enable_full_determinism", "peft_in_trainer",
           "set_seed"]
