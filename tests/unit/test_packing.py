"""Queued bodies: compact, without managedFields and kubectl's copy, and otherwise whole."""

from __future__ import annotations

import copy
from typing import Any

from modelregistry.reconciler.packing import LAST_APPLIED, pack, unpack


def _body() -> dict[str, Any]:
    return {
        "apiVersion": "modelregistry.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {
            "name": "fraud-7",
            "namespace": "team-a",
            "uid": "uid-7",
            "generation": 3,
            "resourceVersion": "4711",
            "annotations": {LAST_APPLIED: '{"spec": {}}', "team": "risk"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"modelRef": {"name": "fraud"}, "version": 7, "metrics": {"auc": 0.91}},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready"}]},
    }


def test_pack_drops_only_managed_fields_and_the_last_applied_copy() -> None:
    body = _body()
    original = copy.deepcopy(body)
    expected = copy.deepcopy(body)
    del expected["metadata"]["managedFields"]
    expected["metadata"]["annotations"] = {"team": "risk"}

    packed = pack(body)

    assert unpack(packed) == expected
    assert body == original  # the watch's copy is left as it was
    assert b" " not in packed  # compact separators


def test_pack_keeps_a_body_without_annotations_whole() -> None:
    body = _body()
    del body["metadata"]["annotations"]
    del body["metadata"]["managedFields"]
    assert unpack(pack(body)) == body


def test_pack_keeps_annotations_when_there_is_no_last_applied_copy() -> None:
    body = _body()
    body["metadata"]["annotations"] = {"team": "risk"}
    assert unpack(pack(body))["metadata"]["annotations"] == {"team": "risk"}
