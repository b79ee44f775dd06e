"""BabyLM 2024's multimodal baselines as plait experiments: `plait run experiments/babylm.py:<function>`.

flamingo_1vd25 / git_1vd25: the full-size settings of BabyLM's `exp_txt_vis_new.py:base_{flmg,git}_1vd25_s1` --
an OPT-125M-shaped Flamingo (cross-attention before every 2nd layer, 2-deep resampler, 64 latents) or a 12-layer
GIT, both trained from scratch beside a frozen DINO ViT-B/16, on CC-3M + Localized Narratives captions paired
step by step with 128-token chunks of the 50M-word text corpus, loss = L_captions + 0.25 * L_text. Data are
read from $BABYLM_DATA (default data/babylm beside this file; the layout is in DATA_LAYOUT).

*_standin: the same model shapes with a randomly initialised ViT-B/16 in place of the DINO checkpoint and the
built-in caption set in place of the data, so the full-size graph can be dry-run offline.
flamingo_tiny / git_tiny: a few hundred thousand parameters, the same 1vd25 mix of built-in data; learn on two
CPU cores in minutes. opt125m / roberta_base: BabyLM's text-only baselines (their YAML files beside this one).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("BABYLM_DATA", HERE / "data" / "babylm"))
DATA_LAYOUT = """
$BABYLM_DATA/cc3m/Train_GCC-training.tsv, downloaded_training_report.tsv, training/...
$BABYLM_DATA/localized_narratives/coco_train_localized_narratives.jsonl, coco_images/{id:012d}.jpg
$BABYLM_DATA/localized_narratives/open_images_train_v6_localized_narratives-0000*-of-00010.jsonl, open_images/{id}.jpg
$BABYLM_DATA/text/train_50M/*.train, text/dev/*.dev
"""
DINO = "facebook/dino-vitb16"
VIT_B16 = {"model_type": "vit", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
           "intermediate_size": 3072, "image_size": 224, "patch_size": 16}
"""DINO ViT-B/16's architecture, randomly initialised (the stand-in for the checkpoint)."""
OPT_125M = {"model_type": "opt", "hidden_size": 768, "ffn_dim": 3072, "num_hidden_layers": 12,
            "num_attention_heads": 12, "word_embed_proj_dim": 768, "max_position_embeddings": 2048,
            "dropout": 0.1, "attention_dropout": 0.0}
GIT_12L = {"model_type": "git", "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
           "num_attention_heads": 12, "max_position_embeddings": 1024, "tie_word_embeddings": True}
TOKENIZER = {"train": {"kind": "bpe", "vocab_size": 32768, "lowercase": False}}
TEXT_WEIGHT = 0.25
"""1vd25: caption loss weight 1, text loss weight 0.25 (BabyLM's cmb_exp_suffix_to_mixw_map)."""
TRAIN = {"epochs": 30, "batch_size": 128, "lr": 1e-4, "weight_decay": 0.1, "max_grad_norm": 1.0,
         "schedule": {"kind": "constant", "warmup_steps": 5000}, "log_every": 100, "save_every": 5000}
"""AdamW 1e-4, weight decay 0.1, batch 128, clip 1.0, fp32, linear warmup over 5000 steps then constant, 30 epochs."""


def _captions() -> list[dict[str, Any]]:
    cc3m = DATA / "cc3m"
    ln = DATA / "localized_narratives"
    return [
        {"kind": "cc3m", "train": {"captions": str(cc3m / "Train_GCC-training.tsv"),
                                   "report": str(cc3m / "downloaded_training_report.tsv")},
         "validation": {"captions": str(cc3m / "Validation_GCC-1.1.0-Validation.tsv"),
                        "report": str(cc3m / "downloaded_validation_report.tsv")}},
        {"kind": "localized_narratives", "naming": "coco",
         "train": {"annotations": str(ln / "coco_train_localized_narratives.jsonl"), "images": str(ln / "coco_images")}},
        {"kind": "localized_narratives", "naming": "open_images",
         "train": {"annotations": str(ln / "open_images_train_v6_localized_narratives-00000-of-00010.jsonl"),
                   "images": str(ln / "open_images")}},
    ]


def _text() -> dict[str, Any]:
    text = DATA / "text"
    # ~96 words ~ the 128-token chunks BabyLM groups its text into (the text source counts words, not tokens)
    return {"kind": "text", "train": [str(text / "train_50M" / "*.train")], "validation": [str(text / "dev" / "*.dev")],
            "mode": "blocks", "block_size": 96}


def _builtin(image_size: int, train: int, held_out: int) -> tuple[dict[str, Any], dict[str, Any]]:
    sizes = {"train_size": train, "validation_size": held_out, "test_size": held_out}
    return ({"kind": "builtin_captions", "part": "captions", "image_size": image_size, **sizes},
            {"kind": "builtin_captions", "part": "text", **{k: 2 * v for k, v in sizes.items()}})


def _mix(captions: Any, text: dict[str, Any], weight: float = TEXT_WEIGHT) -> dict[str, Any]:
    return {"mix": {"mode": "paired", "sources": [{"name": "captions", "source": captions, "weight": 1.0},
                                                  {"name": "text", "source": text, "weight": weight}]},
            "max_bad_fraction": 0.15}  # about 8% of CC-3M's images are gone


def _vision(standin: bool) -> dict[str, Any]:
    return {"config": copy.deepcopy(VIT_B16)} if standin else {"pretrained": DINO}


def flamingo_1vd25(standin: bool = False) -> dict[str, Any]:
    """BabyLM's base_flmg_1vd25_s1: Flamingo (OPT-125M from scratch, frozen DINO ViT-B/16), captions + 0.25 text."""
    return {
        "name": "babylm-flamingo-1vd25" + ("-standin" if standin else ""), "seed": 1,
        "model": {
            "family": "flamingo",
            "vision": {**_vision(standin), "freeze": True, "layer": -1},
            "resampler": {"latents": 64, "depth": 2, "heads": 8, "head_dim": 64},
            "cross_attention": {"every": 2, "start": "first", "heads": 8, "ff_mult": 4, "only_latest_image": True},
            "language": {"config": copy.deepcopy(OPT_125M)},
            "tokenizer": copy.deepcopy(TOKENIZER),
        },
        "data": _mix(*(_builtin(224, 64, 8) if standin else (_captions(), _text()))),
        "train": copy.deepcopy(TRAIN),
        "eval": {"splits": ["validation"], "metrics": ["bleu", "chrf"], "headline": "bleu"},
    }


def git_1vd25(standin: bool = False) -> dict[str, Any]:
    """BabyLM's base_git_1vd25_s1: GIT (12 layers from scratch, tied output, frozen DINO ViT-B/16 in place of its
    encoder, projection re-initialised), captions + 0.25 text."""
    exp = flamingo_1vd25(standin)
    exp["name"] = "babylm-git-1vd25" + ("-standin" if standin else "")
    exp["model"] = {"family": "git", "vision": {**_vision(standin), "freeze": True},
                    "language": {"config": copy.deepcopy(GIT_12L)}, "tokenizer": copy.deepcopy(TOKENIZER)}
    return exp


def flamingo_1vd25_standin() -> dict[str, Any]:
    """flamingo_1vd25's full-size model with stand-ins for the DINO checkpoint and the data (dry-runnable offline)."""
    return flamingo_1vd25(standin=True)


def git_1vd25_standin() -> dict[str, Any]:
    """git_1vd25's full-size model with stand-ins for the DINO checkpoint and the data (dry-runnable offline)."""
    return git_1vd25(standin=True)


TINY_VISION = {"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
               "intermediate_size": 64, "image_size": 32, "patch_size": 8}
TINY_TRAIN = {"epochs": 6, "batch_size": 16, "lr": 2e-3, "weight_decay": 0.01,
              "schedule": {"kind": "cosine", "warmup_steps": 30}, "log_every": 20}


def flamingo_tiny() -> dict[str, Any]:
    """A quickstart: a tiny Flamingo (random ViT, 2-layer OPT) on the built-in captions + 0.25 text."""
    captions, text = _builtin(32, 1000, 50)
    return {
        "name": "babylm-flamingo-tiny", "seed": 0,
        "model": {
            "family": "flamingo",
            "vision": {"config": dict(TINY_VISION), "freeze": False},
            "resampler": {"latents": 8, "depth": 1, "heads": 2, "head_dim": 16},
            "cross_attention": {"every": 1, "heads": 2, "ff_mult": 2},
            "language": {"config": {"model_type": "opt", "hidden_size": 64, "ffn_dim": 128, "num_hidden_layers": 2,
                                    "num_attention_heads": 2, "word_embed_proj_dim": 64,
                                    "max_position_embeddings": 64}},
            "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}},
        },
        "data": _mix(captions, text),
        "train": dict(TINY_TRAIN),
        "eval": {"splits": ["test"], "metrics": ["exact_match", "bleu", "chrf"], "headline": "bleu"},
    }


def git_tiny() -> dict[str, Any]:
    """A quickstart: a tiny GIT (random ViT in place of its encoder, 2 layers) on the built-in captions + 0.25 text."""
    exp = flamingo_tiny()
    exp["name"] = "babylm-git-tiny"
    exp["model"] = {"family": "git", "vision": {"config": dict(TINY_VISION), "freeze": False},
                    "language": {"config": {"model_type": "git", "hidden_size": 64, "intermediate_size": 128,
                                            "num_hidden_layers": 2, "num_attention_heads": 2,
                                            "max_position_embeddings": 64, "tie_word_embeddings": True}},
                    "tokenizer": {"train": {"kind": "wordlevel", "vocab_size": 100}}}
    return exp


def _yaml(name: str) -> dict[str, Any]:
    from plait.config.load import load_raw
    from plait.errors import UserError

    path = HERE / name
    if not path.is_file():
        raise UserError(f"{path}: not found (BabyLM's text-only baselines come with the text family)")
    return load_raw(path)[0]


def opt125m() -> dict[str, Any]:
    """BabyLM's text-only OPT-125M baseline (experiments/babylm-opt125m.yaml)."""
    return _yaml("babylm-opt125m.yaml")


def roberta_base() -> dict[str, Any]:
    """BabyLM's text-only RoBERTa-base baseline (experiments/babylm-roberta-base.yaml)."""
    return _yaml("babylm-roberta-base.yaml")
