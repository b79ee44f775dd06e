"""Whether a checkpoint someone named can be found, before anything is built (torch-free)."""

from __future__ import annotations

import os
from pathlib import Path


def checkpoint_problem(name: str, key: str, valid: str) -> str | None:
    """Why `name` (a local path or a hub name) cannot be found: a local path (absolute, ./, ~/, or deeper than a
    hub name's owner/name) that does not exist, or a hub name not in the Hugging Face cache while the hub is
    offline (HF_HUB_OFFLINE=1). `key` names the field or flag, `valid` says what to give. None: it may be found."""
    path = Path(name).expanduser()
    if path.exists():
        return None
    if path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1:
        return f"{key}: {name} does not exist; {valid}"
    if os.environ.get("HF_HUB_OFFLINE", "") in ("", "0"):
        return None  # online: from_pretrained downloads it (and names the field if it cannot)
    from huggingface_hub import try_to_load_from_cache  # looks in the cache only; no download

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001  (a name that is not a valid repo id)
        cached = None
    if isinstance(cached, str):
        return None
    return (f"{key}: {name!r} is not a local folder and not in the Hugging Face cache, and the hub is offline "
            f"(HF_HUB_OFFLINE=1); {valid}")
