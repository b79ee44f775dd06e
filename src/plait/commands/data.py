"""plait data check: screen every split as a run would and print the data report; write no run directory."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "data"
HELP = "look at an experiment's data before training: `plait data check EXP`"
PERCENTILES = (50, 90, 99, 100)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="screen every split (as `plait run` does) and print counts, skip reasons, "
                                         "the first bad files and token lengths against the model's limit",
                           description="screen every split (as `plait run` does) and print the data report; "
                                       "writes no run directory")
    check.add_argument("experiment", metavar="EXP", help="experiment YAML or file.py:function")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key, e.g. --set data.max_samples=100 (repeatable)")
    check.add_argument("--examples", type=int, default=5, metavar="N", help="bad files shown per split (default 5)")


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from plait.config.load import load_experiment, with_overrides
    from plait.errors import UserError
    from plait.pipeline import prepare_data

    out = Console(highlight=False, soft_wrap=True)
    exp = load_experiment(args.experiment, args.overrides)
    limit = exp.data.max_bad_fraction
    # screened without the threshold, so every split's report is shown; the threshold is applied below
    data = prepare_data(with_overrides(exp, {"data.max_bad_fraction": 1.0}, "plait data check"), dry_run=False)
    out.print(f"[bold]{args.experiment}[/]: data.source.kind {exp.data.source.kind}")
    stops = []
    for split, report in data.reports.items():
        bad = report["total"] - report["kept"]
        share = bad / report["total"] if report["total"] else 0.0
        reasons = ", ".join(f"{why}: {n}" for why, n in report["skipped"].items()) or "none"
        out.print(f"[bold]{split}[/]: {report['total']} samples, {report['kept']} usable, {bad} skipped ({reasons})")
        for example in report["examples"][: args.examples]:
            out.print(f"  {example['id']}: {example['media']}: {example['reason']}")
        if share > limit:
            stops.append(f"data ({split} split): {bad} of {report['total']} unusable, more than "
                         f"data.max_bad_fraction={limit}: `plait run` would stop here")
    for line in token_lengths(exp, data.splits):
        out.print(line)
    if stops:
        raise UserError(*stops)
    return 0


def token_lengths(exp: Any, splits: dict[str, list[Any]]) -> list[str]:
    """Percentiles of prompt, target and prompt + target token counts per split, against the model's limit."""
    import numpy as np

    parts = exp.model.text_model()
    if parts is None:
        return []
    key, component, tok_cfg = parts
    tokenizer, source = text_tokenizer(exp, key, component, tok_cfg, splits["train"])
    media = exp.model.media_token()
    positions = position_limit(key, component)
    lines = [f"[bold]tokens[/] ({source}; media tokens not counted); {key} takes "
             + (f"{positions} positions" if positions else "an unknown number of positions")]

    def count(text: str) -> int:
        return len(tokenizer(text.replace(media, ""), add_special_tokens=False)["input_ids"]) if text else 0

    for split, samples in splits.items():
        if not samples:
            continue
        prompt = np.array([count(s.prompt) for s in samples])
        target = np.array([count(s.target) + 1 for s in samples])  # + EOS
        both = prompt + target
        shown = "  ".join(f"{name} " + "/".join(str(int(v)) for v in np.percentile(values, PERCENTILES))
                          for name, values in (("prompt", prompt), ("target", target), ("total", both)))
        over = int((both > positions).sum()) if positions else 0
        tail = f"; {over} longer than {key}'s {positions} positions" if over else ""
        lines.append(f"  {split}: p50/p90/p99/max {shown}{tail}")
    return lines


def text_tokenizer(exp: Any, key: str, component: Any, tok_cfg: Any, train: list[Any]) -> tuple[Any, str]:
    """The tokenizer a run would use: a config-built model is built as a run builds it (small, and its tokenizer
    is trained on the training texts, tags included); a checkpoint's tokenizer is loaded without its weights."""
    from transformers import AutoTokenizer

    from plait.models.components.loading import load_pretrained
    from plait.models.family import BuildOptions
    from plait.models.registry import get_family
    from plait.train.seed import seed_everything

    if tok_cfg.pretrained is None and component.pretrained is None:
        seed_everything(exp.seed)
        built = get_family(exp.model.family).build(exp.model, train, BuildOptions(quantize=False))
        kind = f"a {tok_cfg.train.kind} tokenizer trained on the training texts" if tok_cfg.train else "the model's"
        return built.processor.tokenizer, kind
    name = tok_cfg.pretrained or component.pretrained
    return load_pretrained(AutoTokenizer, name, "model.tokenizer"), f"tokenizer of {name}"


def position_limit(key: str, component: Any) -> int | None:
    """max_position_embeddings of the text model, from its config mapping or its checkpoint's config."""
    from transformers import AutoConfig

    from plait.models.components.loading import load_pretrained, make_config

    config = make_config(component.config, key) if component.config else load_pretrained(AutoConfig, component.pretrained, key)
    config = getattr(config, "text_config", None) or config  # multimodal checkpoints keep it in text_config
    return getattr(config, "max_position_embeddings", None)
