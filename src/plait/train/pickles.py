"""A checkpoint must hold tensors only: its torch files are checked before a resume loads them.

The Trainer loads optimizer, scheduler and RNG state with `torch.load(weights_only=True)`, which refuses a
pickle payload (good) with a traceback that suggests `weights_only=False` (not good advice for a file that
may have been tampered with). `torch.serialization.get_unsafe_globals_in_checkpoint` reads the pickle's
opcodes without running them, so the refusal can come first, as one line naming the file.
"""

from __future__ import annotations

from pathlib import Path

from plait.errors import UserError

SUFFIXES = (".pt", ".pth", ".bin")
NOT_LOADED = ("training_args.bin",)
"""Written into each checkpoint by the Trainer (a pickled TrainingArguments) but never loaded on resume."""


def check_tensors_only(checkpoint: Path) -> None:
    """UserError naming the first torch file of `checkpoint` that holds objects besides tensors (or is no torch
    file at all); the objects transformers itself allows in its RNG state (numpy arrays) are fine."""
    import torch
    from transformers.trainer_pt_utils import safe_globals

    files = [p for p in checkpoint.rglob("*") if p.suffix in SUFFIXES and p.name not in NOT_LOADED and p.is_file()]
    for file in sorted(files):
        with safe_globals():
            try:
                unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(file)
            except Exception as err:  # noqa: BLE001  (not a zip, truncated, an old format...)
                raise UserError(f"{file}: not a readable torch file ({type(err).__name__}); the checkpoint is "
                                "damaged: resume from an earlier one or start again") from None
        if unsafe:
            raise UserError(f"{file}: holds Python objects besides tensors ({', '.join(unsafe[:3])}); plait loads "
                            "checkpoints as tensors only and will not run it: the checkpoint is damaged or was "
                            "tampered with; remove it to resume from an earlier one")
