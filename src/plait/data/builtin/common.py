"""Helpers shared by the built-in dataset generators."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any, Iterator

from plait.data.cache import cache_root


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSONL."""
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


@contextlib.contextmanager
def generated_once(name: str, params: dict[str, Any]) -> Iterator[tuple[Path, Path | None]]:
    """(folder, tmp): the cache folder for `name` with these params, and a fresh folder to write it into
    (None when it was generated before). On leaving the block, tmp is marked done and renamed into place,
    so a reader never sees a half-written dataset and two processes generating at once both succeed."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_root() / "builtin" / f"{name}-{key}"
    if (folder / "DONE").exists():
        yield folder, None
        return
    tmp = folder.with_name(folder.name + f".tmp{random.randrange(1 << 30)}")
    tmp.mkdir(parents=True)
    yield folder, tmp
    (tmp / "DONE").write_text(json.dumps(params))
    try:
        tmp.rename(folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
