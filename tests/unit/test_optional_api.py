"""Resources watched only where the cluster has them: discovery read, refusals named, and the
one log line that says why InferenceServices are not watched."""

from __future__ import annotations

from typing import Any

import pytest

from modelregistry.decisions.optionalapi import (
    INFERENCE_SERVICES,
    REFUSALS,
    Resource,
    State,
    explain,
    served,
    state_of_refusal,
)


def resource_list(*resources: tuple[str, list[str]]) -> dict[str, Any]:
    """An APIResourceList as discovery answers it."""
    return {
        "kind": "APIResourceList",
        "groupVersion": "serving.kserve.io/v1beta1",
        "resources": [
            {"name": name, "namespaced": True, "kind": "X", "verbs": verbs}
            for name, verbs in resources
        ],
    }


ALL_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]


def test_inference_services_are_kserve_s_v1beta1_resource() -> None:
    assert INFERENCE_SERVICES.group_version == "serving.kserve.io/v1beta1"
    assert INFERENCE_SERVICES.crd == "inferenceservices.serving.kserve.io"
    assert INFERENCE_SERVICES.kind == "InferenceService"
    assert (
        INFERENCE_SERVICES.collection(None) == "/apis/serving.kserve.io/v1beta1/inferenceservices"
    )
    assert (
        INFERENCE_SERVICES.collection("team-a")
        == "/apis/serving.kserve.io/v1beta1/namespaces/team-a/inferenceservices"
    )
    assert INFERENCE_SERVICES.rule == (
        "get, list, watch on inferenceservices in apiGroup serving.kserve.io"
    )


def test_served_when_discovery_lists_the_resource_to_list_and_watch() -> None:
    assert served(
        resource_list(("inferenceservices", ALL_VERBS), ("inferenceservices/status", ["get"])),
        INFERENCE_SERVICES,
    )
    assert served(resource_list(("inferenceservices", ["list", "watch"])), INFERENCE_SERVICES)


@pytest.mark.parametrize(
    "body",
    [
        None,  # 404: the group version is not served at all
        {},
        {"resources": "inferenceservices"},
        resource_list(("trainedmodels", ALL_VERBS)),  # the group, without the resource
        resource_list(("inferenceservices/status", ALL_VERBS)),
        resource_list(("inferenceservices", ["get", "list"])),  # no watch
        resource_list(("inferenceservices", ["get", "watch"])),  # no list
        {"resources": [{"name": "inferenceservices", "verbs": "list,watch"}]},
        {"resources": ["inferenceservices", {"name": "inferenceservices"}]},
    ],
)
def test_not_served_otherwise(body: dict[str, Any] | None) -> None:
    assert not served(body, INFERENCE_SERVICES)


def test_the_first_entry_of_the_resource_decides() -> None:
    body = resource_list(("inferenceservices", ["get"]), ("inferenceservices", ALL_VERBS))
    assert not served(body, INFERENCE_SERVICES)


def test_a_404_means_not_served_a_403_forbidden_anything_else_is_retried() -> None:
    assert state_of_refusal(404) is State.NOT_SERVED
    assert state_of_refusal(403) is State.FORBIDDEN
    for status in (None, 401, 409, 410, 500, 503):
        assert state_of_refusal(status) is None
    assert {s for s in REFUSALS if state_of_refusal(s) is not None} == REFUSALS == {403, 404}


def test_not_served_says_what_is_missing_and_that_it_is_looked_for_again() -> None:
    said = explain(INFERENCE_SERVICES, State.NOT_SERVED, None, 60)
    assert said == (
        "InferenceServices are not watched: the API server does not serve "
        "serving.kserve.io/v1beta1 (the CRD inferenceservices.serving.kserve.io is not "
        "installed); looking again every 60 s, and they are watched once it is"
    )


def test_forbidden_names_the_namespace_and_the_rule_to_grant() -> None:
    said = explain(INFERENCE_SERVICES, State.FORBIDDEN, "team-a", 1.5)
    assert said == (
        "InferenceServices are not watched in namespace team-a: the operator may not list "
        "inferenceservices.serving.kserve.io there; grant it get, list, watch on "
        "inferenceservices in apiGroup serving.kserve.io (the chart's ClusterRole and Roles "
        "do); looking again every 1.5 s"
    )
    assert "in any namespace" in explain(INFERENCE_SERVICES, State.FORBIDDEN, None, 60)


def test_watched_says_where() -> None:
    assert explain(INFERENCE_SERVICES, State.WATCHED, None, 60) == (
        "InferenceServices are served (serving.kserve.io/v1beta1): watching them in any namespace"
    )
    other = Resource("example.io", "v2", "widgets", "Widget")
    assert explain(other, State.WATCHED, "ns", 60) == (
        "Widgets are served (example.io/v2): watching them in namespace ns"
    )
