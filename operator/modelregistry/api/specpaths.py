"""The paths into a ModelVersion's spec that a Model's policy may name, drawn from the API types.

A path is the wire names of fields joined by dots (`modelCard.intendedUse`,
`lineage.code.commit`); `[]` after a list of objects stands for each of its
items (`lineage.datasets[].version`); after a map (`metrics`,
`hyperparameters`) the rest of the path is one key (`metrics.f1`).
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Final, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from modelregistry.api.modelversion import ModelVersionSpec

# What is at the end of a path: how "set" is told (the admission policy's CEL says the same).
Kind = Literal["object", "list", "map", "text", "value"]
# Always set (defaulted), so never worth requiring.
_LEFT_OUT: Final = frozenset({"stage"})


@dataclass(frozen=True)
class SpecPath:
    path: str  # for a map, the map's own path; its keys follow after a dot
    kind: Kind
    values: Kind | None = None  # a map's values: text or value

    @property
    def lists(self) -> int:
        """How many lists the path goes through."""
        return self.path.count("[]")


def _unwrapped(annotation: object) -> object:
    """The type under Annotated and `X | None`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            present = [a for a in get_args(annotation) if a is not type(None)]
            if len(present) != 1:
                raise TypeError(f"cannot name a path through {annotation!r}")
            annotation = present[0]
        else:
            return annotation


def _kind(annotation: object) -> Kind:
    annotation = _unwrapped(annotation)
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    if origin is list:
        return "list"
    if origin is dict:
        return "map"
    if annotation is str or origin is Literal:
        return "text"
    return "value"


def _walk(model: type[BaseModel], prefix: str) -> Iterator[SpecPath]:
    for name, field in model.model_fields.items():
        wire = field.alias or name
        if wire in _LEFT_OUT:
            continue
        path = prefix + wire
        annotation = _unwrapped(field.annotation)
        kind = _kind(annotation)
        if kind == "map":
            yield SpecPath(path, kind, _kind(get_args(annotation)[1]))
            continue
        yield SpecPath(path, kind)
        if kind == "object":
            assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
            yield from _walk(annotation, path + ".")
        elif kind == "list":
            (item,) = get_args(annotation)
            item = _unwrapped(item)
            if isinstance(item, type) and issubclass(item, BaseModel):
                yield from _walk(item, path + "[].")


# Every path a Model may require, in the order of the API types.
PATHS: Final[tuple[SpecPath, ...]] = tuple(_walk(ModelVersionSpec, ""))
BY_PATH: Final = {p.path: p for p in PATHS}
MAPS: Final = tuple(p for p in PATHS if p.kind == "map")


def target(path: str) -> tuple[SpecPath, str | None] | None:
    """The spec path `path` names, and the map key it names (None: it names no key).

    None when it names nothing in a ModelVersion's spec.
    """
    found = BY_PATH.get(path)
    if found is not None:
        return found, None
    for owner in MAPS:
        if path.startswith(owner.path + ".") and len(path) > len(owner.path) + 1:
            return owner, path[len(owner.path) + 1 :]
    return None
