"""JSON merge patches (RFC 7386) computed from two versions of a document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest merge patch that turns `current` into `desired`.

    A key that `desired` lacks is sent as null, the only way a merge patch
    removes a field; without it a cleared field (say, a Model's
    latestReadyVersion) would keep its old value for good. Lists are replaced
    whole, as merge patches do. `desired` holds no nulls of its own. An empty
    result means there is nothing to write.
    """
    patch: dict[str, Any] = {key: None for key in current if key not in desired}
    for key, value in desired.items():
        old = current.get(key)
        if key in current and old == value:
            continue
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            patch[key] = merge_patch(old, value)
        else:
            patch[key] = value
    return patch
