"""Merge patches: what is sent to turn one status into another."""

from __future__ import annotations

from typing import Any

import pytest

from modelregistry.mergepatch import merge_patch
from tests.unit.mergepatches import apply_merge_patch


def test_equal_documents_need_no_patch() -> None:
    status = {"latestVersion": 3, "counts": {"total": 3}, "conditions": [{"type": "Ready"}]}

    assert merge_patch(status, dict(status)) == {}


def test_a_cleared_field_is_sent_as_null() -> None:
    before = {"latestVersion": 2, "latestReadyVersion": 2}
    after = {"latestVersion": 2}

    assert merge_patch(before, after) == {"latestReadyVersion": None}


def test_nested_maps_are_patched_key_by_key() -> None:
    before = {"stages": {"Production": 1, "Staging": 2}, "counts": {"total": 2, "ready": 2}}
    after = {"stages": {"Staging": 3}, "counts": {"total": 2, "ready": 1}}

    assert merge_patch(before, after) == {
        "stages": {"Production": None, "Staging": 3},
        "counts": {"ready": 1},
    }


def test_lists_are_replaced_whole() -> None:
    before = {"conditions": [{"type": "Ready", "status": "True"}]}
    after = {"conditions": [{"type": "Ready", "status": "False"}]}

    assert merge_patch(before, after) == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {"a": 1, "b": {"c": [1, 2]}}),
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"d": 4}}),
        ({"a": {"b": {"c": 1}}}, {"a": 5}),
        ({"a": 5}, {"a": {"b": 1}}),
        ({"a": [1], "b": "x"}, {"a": [1, 2]}),
    ],
)
def test_applying_the_patch_yields_the_desired_document(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    assert apply_merge_patch(before, merge_patch(before, after)) == after
