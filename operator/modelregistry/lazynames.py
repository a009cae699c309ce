"""A package's public names, imported when first used (PEP 562).

`modelregistry fetch` in an init container pays for every module it imports
at each start: the packages it reaches through (`modelregistry.client`,
`modelregistry.api`) import a name's module only when the name is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name of `homes` from its home module."""

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value  # once imported, a plain attribute
        return value

    return getattr_
