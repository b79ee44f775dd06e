"""Plain-text corpora: files or globs, one example per line or grouped into fixed-length blocks."""

from __future__ import annotations

import glob
from pathlib import Path

from plait.data.sample import Sample
from plait.errors import UserError


def expand(patterns: list[str], where: str) -> list[Path]:
    """Every file the patterns match, sorted within each pattern; a pattern matching nothing is an error."""
    files: list[Path] = []
    for i, pattern in enumerate(patterns):
        found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not found:
            raise UserError(f"{where}[{i}]: {pattern!r} matches no file")
        files.extend(f for f in found if f not in files)
    return files


def read_lines(files: list[Path], encoding: str) -> list[tuple[str, str]]:
    """(id, line) for every non-blank line, the id naming file and line number."""
    out = []
    for path in files:
        try:
            text = path.read_text(encoding=encoding)
        except UnicodeDecodeError as err:
            raise UserError(f"{path}: not {encoding} text ({err.reason} at byte {err.start}); "
                            "set data.source.encoding") from None
        out.extend((f"{path.name}:{n}", " ".join(line.split())) for n, line in enumerate(text.splitlines(), 1)
                   if line.strip())
    return out


def group_blocks(lines: list[tuple[str, str]], block_size: int) -> list[Sample]:
    """All lines concatenated and cut into `block_size`-word blocks; the remainder shorter than a block is
    dropped, as transformers' examples' group_texts does (there in tokens). group_texts lives in example
    scripts (run_mlm.py, run_clm.py), not in an importable library function, hence these few lines."""
    words = [w for _, line in lines for w in line.split()]
    count = len(words) // block_size
    if count == 0 and words:  # a corpus smaller than one block is kept whole rather than lost
        return [Sample(id="block-0", prompt="", target=" ".join(words))]
    return [Sample(id=f"block-{i}", prompt="", target=" ".join(words[i * block_size:(i + 1) * block_size]))
            for i in range(count)]


def read_text_split(patterns: list[str], mode: str, block_size: int, encoding: str, where: str) -> list[Sample]:
    """One split of a text corpus as samples whose target is the text."""
    lines = read_lines(expand(patterns, where), encoding)
    if mode == "blocks":
        return group_blocks(lines, block_size)
    return [Sample(id=line_id, prompt="", target=line) for line_id, line in lines]
