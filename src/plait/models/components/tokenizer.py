"""Tokenizers: a pretrained one, or one trained on the training texts with `tokenizers`.

A trained tokenizer gives text back exactly: spaces are kept as a marker inside the tokens (the `tokenizers`
library's Metaspace for word-level, ByteLevel for BPE) and the matching decoder puts them back, so
`decode(encode(t)) == t` for case, punctuation and spacing. What it cannot give back (a word it never kept, a
leading space, lowercased text) is reported once, when it is trained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Console
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIALS = {"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}
MARKER = "\u2581"
"""Metaspace's word-boundary marker: a word-level token starts with it where a space came before the word."""

console = Console(stderr=True)


@dataclass(frozen=True)
class RoundTripFailure:
    """A text the tokenizer does not give back, what it gives instead, and why."""

    text: str
    decoded: str
    kind: str
    """unknown words, lowercased, leading space, marker or other."""
    why: str


def word_level_pipeline() -> tuple[pre_tokenizers.PreTokenizer, decoders.Decoder]:
    """Words with their preceding space as a marker; punctuation and other whitespace are tokens of their own."""
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=MARKER, prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex(r"[^\S ]"), behavior="isolated"),  # newlines, tabs: one token each
        pre_tokenizers.Punctuation(behavior="isolated"),
    ])
    return pre, decoders.Metaspace(replacement=MARKER, prepend_scheme="always", split=True)


def train_tokenizer(
    texts: Iterable[str], kind: str, vocab_size: int, lowercase: bool, extra_special: list[str],
    key: str = "model.tokenizer.train",
) -> PreTrainedTokenizerFast:
    """Train a word-level or byte-level BPE tokenizer on `texts`; special tokens come first.

    Texts it cannot give back exactly are reported on stderr (see `round_trip_failures`); `key` names the
    config section in that report.
    """
    texts = list(texts)
    specials = list(SPECIALS.values()) + list(extra_special)
    if kind == "wordlevel":
        tok = Tokenizer(models.WordLevel(unk_token=SPECIALS["unk_token"]))
        tok.pre_tokenizer, tok.decoder = word_level_pipeline()
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=specials, min_frequency=1,
                                           show_progress=False)
    else:
        tok = Tokenizer(models.BPE(unk_token=None))
        # no prefix space: it would come back as a leading space on every decoded text
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.train_from_iterator(sorted(set(texts)), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False, **SPECIALS)
    fast.add_special_tokens({"additional_special_tokens": list(extra_special)})
    failures = round_trip_failures(fast, texts, lowercase, key)
    if failures:
        console.print(f"[yellow]{key}: {round_trip_summary(failures, len(set(texts)))}[/]", soft_wrap=True,
                      highlight=False, markup=True)
    return fast


def round_trip_failures(tokenizer: PreTrainedTokenizerFast, texts: Iterable[str], lowercase: bool = False,
                        key: str = "model.tokenizer.train") -> list[RoundTripFailure]:
    """Every distinct text with `decode(encode(text)) != text`, and the reason."""
    out = []
    for text in dict.fromkeys(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        if decoded != text:
            out.append(RoundTripFailure(text, decoded, *_why(tokenizer, text, ids, lowercase, key)))
    return out


def round_trip_summary(failures: list[RoundTripFailure], total: int) -> str:
    """One line: how many texts do not come back, the reasons counted, the first example."""
    reasons = Counter(f.kind for f in failures)
    first = failures[0]
    counted = "; ".join(f"{n} {why}" for why, n in reasons.most_common())
    return (f"{len(failures)} of {total} training texts do not decode back exactly ({counted}); "
            f"e.g. {first.text[:60]!r} -> {first.decoded[:60]!r}: {first.why}")


def _why(tokenizer: PreTrainedTokenizerFast, text: str, ids: list[int], lowercase: bool,
         key: str) -> tuple[str, str]:
    if tokenizer.unk_token_id in ids:
        backend = tokenizer.backend_tokenizer
        normal = backend.normalizer.normalize_str(text) if backend.normalizer else text
        unknown = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(normal)
                   if backend.token_to_id(piece) is None]
        shown = ", ".join(repr(p.replace(MARKER, " ")) for p in unknown[:3])
        return "unknown words", (f"words outside the vocabulary: {shown} become {tokenizer.unk_token} "
                                 f"({key}.vocab_size keeps the most frequent)")
    if lowercase and text.lower() != text:
        return "lowercased", f"lowercased ({key}.lowercase: true)"
    if text[:1].isspace():
        return "leading space", "the word-boundary marker keeps spaces before words, not before the first one"
    if MARKER in text:
        return "marker", f"contains {MARKER!r}, the word-boundary marker"
    return "other", "decoded differently"
