"""Reverse lineage: which versions descend from a version, however far down."""

from __future__ import annotations

from typing import Any

from modelregistry.decisions.descent import Descendant, LineageNode, descendants, root_of


def body(name: str, model: str, number: int | None, *parents: tuple[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"modelRef": {"name": model}}
    if parents:
        spec["lineage"] = {"parents": [{"model": m, "version": v} for m, v in parents]}
    status = {"version": number} if number is not None else {}
    return {"metadata": {"name": name}, "spec": spec, "status": status}


def node(name: str, model: str, number: int | None, *parents: tuple[str, int]) -> LineageNode:
    return LineageNode(name, model, number, tuple(parents))


def test_a_node_is_read_from_the_version() -> None:
    read = LineageNode.of(body("ft-1", "ft", 1, ("base", 2), ("base", "3"), ("other", 5)))

    # A parent's number that is not a number is no parent (the schema refuses it anyway).
    assert read == node("ft-1", "ft", 1, ("base", 2), ("other", 5))
    assert read.key == ("ft", 1)
    assert LineageNode.of(body("ft-2", "ft", None)).key is None
    assert LineageNode.of(body("ft-2", "ft", None)).parents == ()


# base@1 ─┬─ ft@1 ── distilled@1 ── tiny@1
#         ├─ ft@2
#         └─ other@4 (also from unrelated@9)
# base@2 ── ft@3
GRAPH = [
    node("tiny-1", "tiny", 1, ("distilled", 1)),
    node("ft-2", "ft", 2, ("base", 1)),
    node("base-1", "base", 1),
    node("ft-1", "ft", 1, ("base", 1)),
    node("distilled-1", "distilled", 1, ("ft", 1)),
    node("other-4", "other", 4, ("unrelated", 9), ("base", 1)),
    node("base-2", "base", 2),
    node("ft-3", "ft", 3, ("base", 2)),
]


def names(found: list[Descendant]) -> list[tuple[str, int, tuple[str, int]]]:
    return [(d.node.name, d.depth, d.parent) for d in found]


def test_descendants_are_children_and_their_children_depth_first() -> None:
    assert names(descendants(GRAPH, ("base", 1))) == [
        ("ft-1", 1, ("base", 1)),
        ("distilled-1", 2, ("ft", 1)),
        ("tiny-1", 3, ("distilled", 1)),
        ("ft-2", 1, ("base", 1)),
        ("other-4", 1, ("base", 1)),
    ]
    assert names(descendants(GRAPH, ("ft", 1))) == [
        ("distilled-1", 1, ("ft", 1)),
        ("tiny-1", 2, ("distilled", 1)),
    ]
    assert names(descendants(GRAPH, ("base", 2))) == [("ft-3", 1, ("base", 2))]


def test_a_leaf_or_an_unknown_version_has_no_descendants() -> None:
    assert descendants(GRAPH, ("tiny", 1)) == []
    assert descendants(GRAPH, ("nothing", 1)) == []
    assert descendants([], ("base", 1)) == []


def test_a_version_reached_twice_is_listed_once() -> None:
    diamond = [
        node("a-1", "a", 1),
        node("b-1", "b", 1, ("a", 1)),
        node("c-1", "c", 1, ("a", 1)),
        node("d-1", "d", 1, ("b", 1), ("c", 1), ("b", 1)),
    ]

    assert names(descendants(diamond, ("a", 1))) == [
        ("b-1", 1, ("a", 1)),
        ("d-1", 2, ("b", 1)),
        ("c-1", 1, ("a", 1)),
    ]


def test_a_cycle_ends() -> None:
    cycle = [
        node("a-1", "a", 1, ("b", 1)),
        node("b-1", "b", 1, ("a", 1)),
        node("c-1", "c", 1, ("c", 1)),
    ]

    assert names(descendants(cycle, ("a", 1))) == [("b-1", 1, ("a", 1))]
    assert descendants(cycle, ("c", 1)) == []


def test_a_child_without_a_number_yet_is_a_descendant_with_no_children() -> None:
    graph = [
        node("a-1", "a", 1),
        node("b-new", "b", None, ("a", 1)),
        node("c-1", "c", 1, ("b", 1)),
    ]

    assert names(descendants(graph, ("a", 1))) == [("b-new", 1, ("a", 1))]


def test_the_root_is_a_name_or_model_at_number() -> None:
    assert root_of(GRAPH, "ft-1") == ("ft", 1)
    assert root_of(GRAPH, "ft@7") == ("ft", 7)  # by number: need not be listed
    assert root_of(GRAPH, "ft-9") is None
    assert root_of(GRAPH, "ft@x") is None
    assert root_of(GRAPH, "@3") is None
    assert root_of(GRAPH, "ft@") is None
    assert root_of([node("new", "ft", None)], "new") is None
