"""Reverse lineage: the versions that descend from a version, through spec.lineage.parents.

A version names its parents as (Model, version number) in its own
namespace; a descendant is a child, a child's child, and so on. Parents are
immutable, but nothing stops two versions from naming each other (explicit
numbers): each version is listed once, and the walk ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelregistry.decisions.catalog import model_name, number

Key = tuple[str, int]  # (Model, version number)


@dataclass(frozen=True)
class LineageNode:
    """A version as the lineage graph sees it."""

    name: str
    model: str
    version: int | None
    parents: tuple[Key, ...]

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> LineageNode:
        lineage = (body.get("spec") or {}).get("lineage") or {}
        parents = tuple(
            (str(p.get("model")), int(p["version"]))
            for p in lineage.get("parents") or []
            if isinstance(p.get("version"), int)
        )
        return cls(body["metadata"]["name"], model_name(body), number(body), parents)

    @property
    def key(self) -> Key | None:
        return (self.model, self.version) if self.version is not None else None


@dataclass(frozen=True)
class Descendant:
    node: LineageNode
    depth: int  # 1 for a child
    parent: Key  # the parent it was reached through


def root_of(nodes: Iterable[LineageNode], reference: str) -> Key | None:
    """`churn-3` (a ModelVersion's name) or `churn@3` (Model and number); None if unknown."""
    model, at, version = reference.partition("@")
    if at:
        return (model, int(version)) if version.isdigit() and model else None
    return next((n.key for n in nodes if n.name == reference), None)


def descendants(nodes: Iterable[LineageNode], root: Key) -> list[Descendant]:
    """Every descendant of `root`, depth first, children in order of Model, number and name."""
    children: dict[Key, list[LineageNode]] = {}
    for node in sorted(nodes, key=lambda n: (n.model, n.version or 0, n.name)):
        for parent in dict.fromkeys(node.parents):
            children.setdefault(parent, []).append(node)
    found: list[Descendant] = []
    seen: set[str] = set()
    # (node, depth, parent) still to visit; reversed so the first child comes out first.
    stack = [(child, 1, root) for child in reversed(children.get(root, []))]
    while stack:
        node, depth, parent = stack.pop()
        if node.name in seen or node.key == root:
            continue
        seen.add(node.name)
        found.append(Descendant(node, depth, parent))
        if node.key is not None:
            stack += [(c, depth + 1, node.key) for c in reversed(children.get(node.key, []))]
    return found
