"""Where each version runs: a workload's `modelregistry://` references, what they resolve to,
and what a version's status records of its users."""

from __future__ import annotations

from typing import Any

import pytest

from modelregistry.decisions.deployments import (
    ANNOTATION,
    INFERENCE_SERVICE,
    LISTED,
    POD,
    Deployments,
    User,
    counts,
    deployments_of,
    is_validation_pod,
    recorded,
    references,
    resolve_reference,
    status_patch,
    user_of,
)
from modelregistry.decisions.model import VersionSummary
from modelregistry.decisions.serving import parse_uri
from modelregistry.decisions.validationpod import MANAGED_BY

from .builders import DIGEST_A, URI


def pod(
    namespace: str = "team-a",
    *,
    args: list[str] | None = None,
    env: list[dict[str, str]] | None = None,
    annotation: str | None = None,
    phase: str | None = "Running",
    labels: dict[str, str] | None = None,
    owners: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "namespace": namespace,
        "name": "server-1",
        "creationTimestamp": "2026-12-01T10:00:00Z",
        "labels": labels or {},
        "ownerReferences": owners or [],
    }
    if annotation is not None:
        meta["annotations"] = {ANNOTATION: annotation}
    body: dict[str, Any] = {
        "metadata": meta,
        "spec": {
            "initContainers": [
                {"name": "fetch", "image": "mr", "args": args or [], "env": env or []}
            ],
            "containers": [{"name": "serve", "image": "srv"}],
        },
    }
    if phase is not None:
        body["status"] = {"phase": phase}
    return body


def named(body: dict[str, Any], kind: str = POD) -> list[str]:
    return [str(u) for u in references(body, kind)]


# --- references --------------------------------------------------------------------------------


def test_an_init_containers_argument_is_a_reference() -> None:
    body = pod(args=["fetch", "modelregistry://team-a/churn@champion", "/models"])
    assert named(body) == ["modelregistry://team-a/churn@champion"]


def test_a_reference_inside_an_argument_or_an_env_value_is_found() -> None:
    body = pod(
        args=["--model=modelregistry://team-a/churn@3"],
        env=[{"name": "MODEL", "value": "'modelregistry://team-a/fraud@Production'"}],
    )
    assert named(body) == [
        "modelregistry://team-a/churn@3",
        "modelregistry://team-a/fraud@Production",
    ]


def test_the_annotation_lists_uris_and_model_at_target_in_the_pods_namespace() -> None:
    body = pod(annotation=" churn@champion, modelregistry://team-a/fraud@2 ,, ranker@Staging")
    assert named(body) == [
        "modelregistry://team-a/churn@champion",
        "modelregistry://team-a/fraud@2",
        "modelregistry://team-a/ranker@Staging",
    ]


def test_each_reference_counts_once() -> None:
    body = pod(args=["modelregistry://team-a/churn@3"], annotation="churn@3")
    assert named(body) == ["modelregistry://team-a/churn@3"]


def test_references_into_another_namespace_do_not_count() -> None:
    # Anyone who may create Pods in team-b must not appear on team-a's versions.
    body = pod(
        "team-b",
        args=["modelregistry://team-a/churn@champion"],
        annotation="modelregistry://team-a/churn@1, churn@2",
    )
    assert named(body) == ["modelregistry://team-b/churn@2"]


@pytest.mark.parametrize(
    "annotation",
    [
        "churn",  # no target
        "churn@None",  # nothing is served from None
        "churn@01",  # a leading zero
        "Churn@1",  # not a Model name
        "modelregistry://team-a/churn",  # no target
        "@1",
        "a@b@c",
    ],
)
def test_what_cannot_be_parsed_is_skipped(annotation: str) -> None:
    body = pod(annotation=annotation + ",churn@2")
    assert named(body) == ["modelregistry://team-a/churn@2"]


def test_other_schemes_are_not_references() -> None:
    body = pod(args=["s3://bucket/models/churn", "oci://r/x@sha256:" + "a" * 64])
    assert named(body) == []


def test_an_inference_services_storage_uri_is_a_reference() -> None:
    body = {
        "metadata": {"namespace": "team-a", "name": "churn", "creationTimestamp": "t"},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "sklearn"},
                    "storageUri": "modelregistry://team-a/churn@champion",
                }
            },
            "transformer": {"containers": [{"args": ["modelregistry://team-a/enc@1"]}]},
        },
        "status": {"phase": "Failed"},  # not a Pod: phase means nothing here
    }
    assert named(body, INFERENCE_SERVICE) == [
        "modelregistry://team-a/churn@champion",
        "modelregistry://team-a/enc@1",
    ]


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_pod_uses_nothing(phase: str) -> None:
    body = pod(args=["modelregistry://team-a/churn@1"], phase=phase)
    assert not counts(body, POD)
    assert named(body) == []


@pytest.mark.parametrize("phase", ["Pending", "Running", "Unknown", None])
def test_a_pod_not_finished_uses_what_it_names(phase: str | None) -> None:
    body = pod(args=["modelregistry://team-a/churn@1"], phase=phase)
    assert counts(body, POD)
    assert named(body) == ["modelregistry://team-a/churn@1"]


VALIDATION_OWNER = {"kind": "ModelVersion", "name": "churn-1", "uid": "u", "controller": True}


def test_the_operators_validation_pod_uses_nothing() -> None:
    body = pod(
        args=["modelregistry://team-a/churn@1"],
        labels={"app.kubernetes.io/managed-by": MANAGED_BY},
        owners=[VALIDATION_OWNER],
    )
    assert is_validation_pod(body)
    assert named(body) == []


@pytest.mark.parametrize(
    ("labels", "owners"),
    [
        ({"app.kubernetes.io/managed-by": MANAGED_BY}, []),
        ({"app.kubernetes.io/managed-by": "someone"}, [VALIDATION_OWNER]),
        ({"app.kubernetes.io/managed-by": MANAGED_BY}, [{**VALIDATION_OWNER, "controller": False}]),
        ({"app.kubernetes.io/managed-by": MANAGED_BY}, [{**VALIDATION_OWNER, "kind": "Job"}]),
    ],
)
def test_only_the_label_and_a_modelversion_controller_make_a_validation_pod(
    labels: dict[str, str], owners: list[dict[str, Any]]
) -> None:
    body = pod(args=["modelregistry://team-a/churn@1"], labels=labels, owners=owners)
    assert not is_validation_pod(body)
    assert named(body) == ["modelregistry://team-a/churn@1"]


def test_a_workload_is_named_by_kind_namespace_name_and_creation() -> None:
    assert user_of(pod(), POD) == User("team-a", "server-1", POD, "2026-12-01T10:00:00Z")


# --- resolution --------------------------------------------------------------------------------


def summary(
    number: int | None,
    *,
    stage: str | None = "None",
    ready: bool = True,
    settled: bool = True,
    name: str | None = None,
) -> VersionSummary:
    return VersionSummary(
        number,
        ready,
        False,
        stage,
        name=name or f"churn-{number}",
        uid=f"uid-{number}",
        uri=URI,
        digest=DIGEST_A,
        settled=settled,
    )


def resolved(text: str, versions: list[VersionSummary], aliases: dict[str, int]) -> str | None:
    return resolve_reference(parse_uri(text), versions, aliases)


def test_a_number_names_the_version_that_holds_it() -> None:
    versions = [summary(1), summary(2), summary(3)]
    assert resolved("modelregistry://a/churn@2", versions, {}) == "churn-2"
    assert resolved("modelregistry://a/churn@4", versions, {}) is None


def test_a_claim_on_a_held_number_does_not_shadow_its_holder() -> None:
    versions = [summary(2, name="holder"), summary(2, settled=False, name="claimant")]
    assert resolved("modelregistry://a/churn@2", versions, {}) == "holder"
    assert resolved("modelregistry://a/churn@2", versions[::-1], {}) == "holder"


def test_a_number_that_is_also_an_alias_is_ambiguous_and_names_nothing() -> None:
    versions = [summary(1), summary(2)]
    assert resolved("modelregistry://a/churn@2", versions, {"2": 1}) is None


def test_a_stage_names_its_newest_holder() -> None:
    versions = [
        summary(3, stage="Staging"),
        summary(1, stage="Production"),
        summary(2, stage="Staging"),
    ]
    assert resolved("modelregistry://a/churn@Staging", versions, {}) == "churn-3"
    assert resolved("modelregistry://a/churn@Production", versions, {}) == "churn-1"


def test_a_stage_nobody_holds_names_nothing() -> None:
    assert resolved("modelregistry://a/churn@Production", [summary(1)], {}) is None


def test_an_alias_names_what_the_model_resolves() -> None:
    versions = [summary(1), summary(2)]
    assert resolved("modelregistry://a/churn@champion", versions, {"champion": 2}) == "churn-2"
    assert resolved("modelregistry://a/churn@other", versions, {"champion": 2}) is None


def test_an_alias_at_a_version_no_longer_ready_still_names_it() -> None:
    # Its users matter most when its bytes are in doubt.
    versions = [summary(1), summary(2, ready=False)]
    assert resolved("modelregistry://a/churn@champion", versions, {"champion": 2}) == "churn-2"
    assert resolved("modelregistry://a/churn@champion", versions, {"champion": 7}) is None


# --- what status records -----------------------------------------------------------------------


def users(count: int, namespace: str = "team-a") -> list[User]:
    return [User(namespace, f"pod-{i:03d}", POD, "t") for i in range(count)]


def test_users_are_sorted_counted_and_listed_up_to_the_bound() -> None:
    many = users(LISTED + 5)
    found = deployments_of(reversed(many))
    assert found.count == LISTED + 5
    assert found.users == tuple(many[:LISTED])
    assert found.listed[0] == {"kind": POD, "namespace": "team-a", "name": "pod-000", "since": "t"}


def test_the_same_user_twice_counts_once() -> None:
    one = users(1)
    assert deployments_of(one + one) == Deployments(tuple(one), 1)


def test_a_person_reads_three_users_and_how_many_more() -> None:
    assert deployments_of(users(2)).describe() == "Pod team-a/pod-000, Pod team-a/pod-001"
    assert deployments_of(users(5)).describe() == (
        "Pod team-a/pod-000, Pod team-a/pod-001, Pod team-a/pod-002 and 2 more"
    )


def test_the_status_is_patched_only_when_it_would_change() -> None:
    now = deployments_of(users(2))
    patch = status_patch({}, now)
    assert patch == {"deployments": now.listed, "deploymentCount": 2}
    assert status_patch(patch, now) is None
    assert recorded(patch) == now


def test_a_changed_since_or_count_is_a_change() -> None:
    now = deployments_of(users(LISTED + 1))
    written = {"deployments": now.listed, "deploymentCount": LISTED + 1}
    assert status_patch(written, deployments_of(users(LISTED + 2))) == {
        "deployments": now.listed,
        "deploymentCount": LISTED + 2,
    }
    later = [User("team-a", "pod-000", POD, "later"), *users(LISTED + 1)[1:]]
    assert status_patch(written, deployments_of(later)) is not None


def test_no_users_clears_both_fields() -> None:
    written = {"deployments": deployments_of(users(1)).listed, "deploymentCount": 1}
    assert status_patch(written, deployments_of([])) == {
        "deployments": None,
        "deploymentCount": None,
    }
    assert status_patch({}, deployments_of([])) is None


@pytest.mark.parametrize(
    "status",
    [
        {"deployments": "x", "deploymentCount": True},
        {"deployments": [None, 3], "deploymentCount": "2"},
    ],
)
def test_an_unreadable_status_is_rewritten(status: dict[str, Any]) -> None:
    now = deployments_of(users(1))
    assert status_patch(status, now) == {"deployments": now.listed, "deploymentCount": 1}


def test_a_workload_without_metadata_is_named_by_empty_strings() -> None:
    assert user_of({}, POD) == User("", "", POD, "")


def test_an_entry_missing_its_fields_is_read_as_empty() -> None:
    assert recorded({"deployments": [{}], "deploymentCount": 1}) == Deployments(
        (User("", "", "", ""),), 1
    )


def nested(levels: int, leaf: str) -> dict[str, Any]:
    value: Any = leaf
    for _ in range(levels):
        value = {"x": value}
    return value  # type: ignore[no-any-return]


def test_a_reference_is_looked_for_twelve_levels_deep_and_no_deeper() -> None:
    uri = "modelregistry://team-a/churn@1"
    body = {"metadata": {"namespace": "team-a"}, "spec": nested(12, uri)}
    assert named(body, INFERENCE_SERVICE) == [uri]
    body["spec"] = nested(13, uri)
    assert named(body, INFERENCE_SERVICE) == []
    body["spec"] = {"list": [nested(10, uri)]}  # a list is a level too
    assert named(body, INFERENCE_SERVICE) == [uri]
    body["spec"] = {"list": [nested(11, uri)]}
    assert named(body, INFERENCE_SERVICE) == []
