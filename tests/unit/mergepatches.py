"""Applying merge patches in tests, the way the API server does."""

from __future__ import annotations

from typing import Any


def apply_merge_patch(document: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 section 2."""
    result = dict(document)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            # A key that is not an object yet becomes one: the patch's nulls leave nothing.
            target = result.get(key)
            result[key] = apply_merge_patch(target if isinstance(target, dict) else {}, value)
        else:
            result[key] = value
    return result
