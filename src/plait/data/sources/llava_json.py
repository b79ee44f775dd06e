"""LLaVA conversation JSON: each human/gpt turn pair becomes a sample, earlier turns as context."""

from __future__ import annotations

from pathlib import Path

from plait.data.sample import Sample
from plait.data.sources.manifest import read_rows
from plait.errors import UserError


def read_llava_json(path: Path, image_root: Path | None, image_token: str = "<image>") -> list[Sample]:
    """Samples of a LLaVA-format file (`image`, `conversations` with `from`/`value`)."""
    rows = read_rows(path)
    root = image_root or path.parent
    samples = []
    for i, row in enumerate(rows):
        turns = row.get("conversations")
        if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
            raise UserError(f"{path}: sample {i} has no `conversations` list of {{from, value}} objects")
        image = row.get("image")
        media = None
        if image:
            media = Path(image) if Path(image).is_absolute() else root / image
        history = ""
        for t in range(0, len(turns) - 1, 2):
            human, gpt = turns[t], turns[t + 1]
            if human.get("from") != "human" or gpt.get("from") != "gpt":
                raise UserError(f"{path}: sample {i} turn {t}: expected a human turn followed by a gpt turn")
            question = str(human.get("value", "")).replace(image_token, "").strip()
            answer = str(gpt.get("value", "")).strip()
            prefix = f"{image_token}\n" if media is not None else ""
            samples.append(Sample(
                id=f"{row.get('id', i)}-{t // 2}", prompt=f"{prefix}{history}{question}", target=answer, media=media,
            ))
            history += f"{question}\n{answer}\n"
    return samples
