"""Tokenizers: a pretrained one, or one trained on the training texts with `tokenizers`."""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIALS = {"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}


def train_tokenizer(
    texts: Iterable[str], kind: str, vocab_size: int, lowercase: bool, extra_special: list[str]
) -> PreTrainedTokenizerFast:
    """Train a word-level or byte-level BPE tokenizer on `texts`; special tokens come first."""
    specials = list(SPECIALS.values()) + list(extra_special)
    if kind == "wordlevel":
        tok = Tokenizer(models.WordLevel(unk_token=SPECIALS["unk_token"]))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=specials, min_frequency=1)
    else:
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.train_from_iterator(sorted(set(texts)), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS)
    fast.add_special_tokens({"additional_special_tokens": list(extra_special)})
    return fast
