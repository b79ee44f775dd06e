"""plait export: a run's model as a folder that plain transformers loads (peft for an unmerged adapter)."""

from __future__ import annotations

import argparse
from pathlib import Path

from plait.errors import UserError, check_writable_folder

NAME = "export"
HELP = ("write a run's model as a folder plain transformers loads: LlavaForConditionalGeneration when Llava "
        "can express it, else remote code (trust_remote_code=True), with a processor; a LoRA adapter stays apart "
        "for peft unless --merge")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory (with model/)")
    parser.add_argument("--to", required=True, metavar="DIR", help="folder to create (must not exist yet)")
    parser.add_argument("--merge", action="store_true",
                        help="fold LoRA adapters into the weights (a 4-bit model is then exported in full precision)")


def main(args: argparse.Namespace) -> int:
    target = Path(args.to)
    if target.exists():
        raise UserError(f"--to {target}: already exists; give a folder that does not exist yet")
    folder = Path(args.run) / "model"
    if not (folder / "plait_model.json").is_file():
        raise UserError(f"{args.run}: not a run directory with a saved model (no model/plait_model.json)")
    from plait.models.family import saved_family
    from plait.models.registry import capabilities, get_family, specs

    family = saved_family(folder)
    if not capabilities(family).export:
        exported = ", ".join(s.name for s in specs() if s.capabilities.export)
        raise UserError(f"{args.run}: the {family} family has no export; families with one: {exported}")
    check_writable_folder(target.parent, "--to")
    target.parent.mkdir(parents=True, exist_ok=True)
    from plait.runs.load import damaged_run

    with damaged_run(folder):
        record = get_family(family).export(folder, target, args.merge)
    adapter = f", adapter in {target / record['adapter']}" if record["adapter"] else ""
    print(f"{target}: {record['class']}{' (4-bit)' if record['quantized_4bit'] else ''}{adapter}")
    return 0
