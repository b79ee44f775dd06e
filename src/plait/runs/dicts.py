"""Differences between nested mappings (configs, environments), key by dotted key."""

from __future__ import annotations

from typing import Any

ABSENT = "(absent)"


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {"a.b.c": value}; lists and other values are kept whole, empty mappings vanish."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in a, value in b) for every key whose values differ; ABSENT marks a missing key."""
    flat_a, flat_b = flatten(a), flatten(b)
    keys = sorted(set(flat_a) | set(flat_b))
    return [
        (key, flat_a.get(key, ABSENT), flat_b.get(key, ABSENT))
        for key in keys
        if flat_a.get(key, ABSENT) != flat_b.get(key, ABSENT)
    ]


def under(key: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a dotted key is one of `prefixes` or inside one of them."""
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)
