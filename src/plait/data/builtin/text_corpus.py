"""A synthetic English-like corpus from a small grammar; its words are those of the built-in GLUE-like tasks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from plait.data.builtin.common import generated_once

ANIMALS = ["cat", "dog", "bird", "fox", "horse", "mouse", "rabbit", "wolf", "bear", "duck"]
PEOPLE = ["teacher", "doctor", "farmer", "child", "sailor", "king", "pilot", "baker", "singer", "nurse"]
POSITIVE = ["good", "great", "happy", "lovely", "kind", "brave"]
NEGATIVE = ["bad", "awful", "sad", "cruel", "nasty", "angry"]
NEUTRAL = ["big", "small", "red", "old", "young", "tall"]
VERBS = {"sees": "see", "chases": "chase", "likes": "like", "finds": "find", "helps": "help", "follows": "follow"}
SYNONYMS = {"big": "large", "small": "little", "sees": "watches", "likes": "loves", "finds": "discovers",
            "helps": "assists", "happy": "glad", "sad": "unhappy", "old": "elderly", "tall": "high"}
PLACES = ["in the park", "at home", "by the river", "in the town", "at night", "in the garden"]


@dataclass(frozen=True)
class Clause:
    """Subject adjective and noun, verb, object adjective and noun (plus an optional place)."""

    adj1: str
    noun1: str
    verb: str
    adj2: str
    noun2: str
    place: str = ""

    def text(self) -> str:
        words = f"the {self.adj1} {self.noun1} {self.verb} the {self.adj2} {self.noun2}"
        return f"{words} {self.place}".strip()


def clause(rng: random.Random, nouns: list[str], adjectives: list[str] | None = None,
           place: bool = True) -> Clause:
    """A random clause with two different nouns."""
    adjectives = adjectives or NEUTRAL
    noun1, noun2 = rng.sample(nouns, 2)
    return Clause(rng.choice(adjectives), noun1, rng.choice(list(VERBS)), rng.choice(adjectives), noun2,
                  rng.choice(PLACES) if place and rng.random() < 0.4 else "")


def paraphrase(text: str) -> str:
    """Each word with a synonym replaced by it (and back), so the meaning stays."""
    back = {v: k for k, v in SYNONYMS.items()}
    return " ".join(SYNONYMS.get(w, back.get(w, w)) for w in text.split())


def sentence(rng: random.Random) -> str:
    """One corpus sentence of any of the grammar's forms."""
    nouns = ANIMALS + PEOPLE
    adjectives = POSITIVE + NEGATIVE + NEUTRAL
    c = clause(rng, rng.choice([ANIMALS, PEOPLE, nouns]), adjectives)
    form = rng.random()
    if form < 0.35:
        return c.text() + " ."
    if form < 0.5:
        return f"{c.text()} . {paraphrase(c.text())} ."
    if form < 0.6:
        return f"the {c.noun1} does not {VERBS[c.verb]} the {c.noun2} ."
    if form < 0.7:
        return f"does the {c.adj1} {c.noun1} {VERBS[c.verb]} the {c.noun2} ?"
    if form < 0.8:
        return f"what does the {c.noun1} {VERBS[c.verb]} ? the {c.noun1} {c.verb} the {c.noun2} ."
    if form < 0.9:
        return f"the {c.noun1} {c.verb} the {c.noun2} because it is {rng.choice(adjectives)} ."
    return f"the {c.noun1} is {c.adj1} and the {c.noun2} is {c.adj2} ."


def generate_corpus(sentences: int, seed: int) -> Path:
    """Folder with stories.train, dialogue.train (the training sentences, split in two as BabyLM ships several
    files) and corpus.dev; generated once per setting."""
    with generated_once("text-corpus", {"sentences": sentences, "seed": seed, "version": 2}) as (folder, tmp):
        if tmp is not None:
            rng = random.Random(seed)
            lines = [sentence(rng) for _ in range(sentences)]
            half = len(lines) // 2
            (tmp / "stories.train").write_text("\n".join(lines[:half]) + "\n")
            (tmp / "dialogue.train").write_text("\n".join(lines[half:]) + "\n")
            (tmp / "corpus.dev").write_text("\n".join(sentence(rng) for _ in range(max(10, sentences // 10))) + "\n")
    return folder
