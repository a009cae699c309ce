"""A validation Pod as a pass reads it (phase, containers, the scheduler's word, uid, owner,
spec digest and fingerprint), and why a Pod is not the operator's own (`distrust`)."""

from __future__ import annotations

from dataclasses import astuple, replace
from typing import Any

import pytest

from modelregistry.api.modelversion import ValidationStatus
from modelregistry.decisions.podspec import fingerprint
from modelregistry.decisions.podstate import (
    ContainerState,
    PodRef,
    PodState,
    distrust,
    read_pod,
)

from .builders import DIGEST_A, URI
from .validationbuilders import (
    FETCHED,
    IMAGE,
    OTHER_UID,
    OWN_SPEC,
    POD_PLAN,
    POD_UID,
    SPEC_DIGEST,
    UNSCHEDULABLE_TEXT,
    VERSION_UID,
    entry,
    pod_body,
    report,
    run_of,
    running,
    terminated,
    unscheduled,
    waiting,
)

NAME = "fraud-v3-validation-1-x7k2p"


def own(name: str, phase: str, **fields: Any) -> PodState:
    """The PodState of the operator's own Pod (as `pod_body` makes it)."""
    return PodState(
        name,
        phase,
        uid=POD_UID,
        controller_uid=VERSION_UID,
        spec_digest=SPEC_DIGEST,
        fingerprint=SPEC_DIGEST,
        **fields,
    )


# --- read_pod ---------------------------------------------------------------------------------


def test_read_pod_reads_phase_containers_and_their_states() -> None:
    body = pod_body(
        NAME,
        "Running",
        init=[FETCHED],
        containers=[
            terminated("format", 0, '{"check":"format","passed":true}'),
            running("load", "2030-01-02T03:04:21Z"),
            waiting("fairness", "ContainerCreating", image=IMAGE),
        ],
    )

    assert read_pod(body) == own(
        NAME,
        "Running",
        reason="",
        message="",
        unschedulable=None,
        init=(
            ContainerState(
                "fetch",
                "terminated",
                "Completed",
                report("fetch", True, None, None, f"Fetched {URI} ({DIGEST_A})."),
                0,
                "2030-01-02T03:04:08Z",
                "2030-01-02T03:04:19Z",
            ),
        ),
        containers=(
            ContainerState(
                "format",
                "terminated",
                "Completed",
                '{"check":"format","passed":true}',
                0,
                "2030-01-02T03:04:20Z",
                "2030-01-02T03:05:01Z",
            ),
            ContainerState("load", "running", started_at="2030-01-02T03:04:21Z"),
            ContainerState("fairness", "waiting", "ContainerCreating"),
        ),
    )


def test_read_pod_reads_who_made_it_and_what_it_runs() -> None:
    spec = {**OWN_SPEC, "containers": [{"name": "format", "image": "evil:1"}]}
    body = pod_body(NAME, "Pending", uid="u-1", controller="owner-2", digest="d-3", spec=spec)

    state = read_pod(body)

    assert (state.uid, state.controller_uid, state.spec_digest, state.fingerprint) == (
        "u-1",
        "owner-2",
        "d-3",
        fingerprint(spec),
    )
    assert state.ref == PodRef(NAME, "u-1")


def test_only_the_controller_owner_counts() -> None:
    body = pod_body(NAME, "Pending")
    body["metadata"]["ownerReferences"] = [
        {"kind": "ModelVersion", "name": "other", "uid": "not-controller"},
        {"kind": "ModelVersion", "name": "other", "uid": "false", "controller": False},
        {"kind": "ModelVersion", "name": "other", "uid": "truthy", "controller": "true"},
        {"kind": "ModelVersion", "name": "fraud-v3", "uid": VERSION_UID, "controller": True},
        {"kind": "ModelVersion", "name": "late", "uid": "second", "controller": True},
    ]

    assert read_pod(body).controller_uid == VERSION_UID


def test_a_pod_without_owner_annotation_or_spec_is_read_as_having_none() -> None:
    body = pod_body(NAME, "Pending", controller=None, digest=None)
    del body["spec"]
    other = {**body, "metadata": {**body["metadata"], "annotations": {"x": "y"}}, "spec": None}

    assert read_pod(body) == PodState(NAME, "Pending", uid=POD_UID)
    assert read_pod(other) == PodState(NAME, "Pending", uid=POD_UID)


def test_read_pod_reads_a_failed_pod_s_reason_and_message() -> None:
    body = pod_body(
        NAME,
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
    )

    assert read_pod(body) == own(
        NAME,
        "Failed",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
    )


def test_read_pod_reads_the_scheduler_s_message() -> None:
    assert read_pod(unscheduled(NAME)) == own(NAME, "Pending", unschedulable=UNSCHEDULABLE_TEXT)


def test_read_pod_says_unschedulable_without_a_scheduler_message() -> None:
    state = read_pod(unscheduled(NAME, message=None))

    assert state.unschedulable == "the scheduler found no node for it"


def test_only_an_unschedulable_pod_scheduled_condition_counts() -> None:
    decoys = [
        {"type": "Ready", "status": "False", "reason": "Unschedulable", "message": "ready"},
        {"type": "PodScheduled", "status": "True", "reason": "Unschedulable", "message": "true"},
        {"type": "PodScheduled", "status": "False", "reason": "SchedulerError", "message": "err"},
        {"type": "Ready", "status": "True", "reason": "Unschedulable", "message": "ready true"},
    ]
    body = pod_body("p", "Pending", pod_conditions=decoys)
    real = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "no"}

    assert read_pod(body).unschedulable is None
    assert read_pod(pod_body("p", "Pending", pod_conditions=[*decoys, real])).unschedulable == "no"


def test_read_pod_without_a_status_is_pending() -> None:
    assert read_pod({"metadata": {"name": "fresh"}}) == PodState("fresh", "Pending")
    assert read_pod({"metadata": {"name": "fresh"}, "status": None}) == PodState("fresh", "Pending")
    assert read_pod({"metadata": {"name": "fresh"}, "status": {"phase": None}}) == PodState(
        "fresh", "Pending"
    )
    assert read_pod({}) == PodState("", "Pending")


def test_read_pod_takes_the_state_that_is_set_in_a_client_style_body() -> None:
    """The Kubernetes client's to_dict() writes every state key, unset ones as None."""
    body = {
        "metadata": {"name": "p", "annotations": None, "ownerReferences": None},
        "status": {
            "phase": "Running",
            "reason": None,
            "message": None,
            "conditions": None,
            "initContainerStatuses": None,
            "containerStatuses": [
                {
                    "name": "load",
                    "state": {
                        "terminated": None,
                        "running": {"startedAt": "2030-01-02T03:04:21Z"},
                        "waiting": None,
                    },
                },
                {
                    "name": "format",
                    "state": {
                        "terminated": None,
                        "running": None,
                        "waiting": {"reason": "PodInitializing", "message": None},
                    },
                },
                {
                    "name": "fairness",
                    "state": {"terminated": None, "running": None, "waiting": None},
                },
                {"name": "other", "state": None},
                {"name": "bare"},
            ],
        },
    }

    assert read_pod(body) == PodState(
        "p",
        "Running",
        containers=(
            ContainerState("load", "running", started_at="2030-01-02T03:04:21Z"),
            ContainerState("format", "waiting", "PodInitializing"),
            ContainerState("fairness", "unknown"),
            ContainerState("other", "unknown"),
            ContainerState("bare", "unknown"),
        ),
    )


def test_a_container_without_a_state_is_unknown_and_says_nothing_more() -> None:
    (state,) = read_pod(pod_body("p", "Pending", containers=[{"name": "load"}])).containers

    assert astuple(state) == ("load", "unknown", "", "", None, None, None)


def test_a_terminated_state_wins_over_the_others() -> None:
    body = pod_body(
        "p",
        "Running",
        containers=[
            entry(
                "load",
                {
                    "waiting": {"reason": "PodInitializing"},
                    "running": {"startedAt": "2030-01-02T03:04:21Z"},
                    "terminated": {"exitCode": 2, "reason": "Error", "message": "bad"},
                },
            ),
            entry(
                "format",
                {
                    "waiting": {"reason": "PodInitializing"},
                    "running": {"startedAt": "2030-01-02T03:04:22Z"},
                },
            ),
        ],
    )

    assert read_pod(body).containers == (
        ContainerState("load", "terminated", "Error", "bad", 2),
        ContainerState("format", "running", started_at="2030-01-02T03:04:22Z"),
    )


@pytest.mark.parametrize("code", ["0", 0.0, None, True])
def test_an_exit_code_that_is_not_a_number_is_none(code: object) -> None:
    body = pod_body("p", "Running", containers=[entry("load", {"terminated": {"exitCode": code}})])

    (state,) = read_pod(body).containers

    assert state == ContainerState("load", "terminated", exit_code=True if code is True else None)


def test_the_last_state_of_a_restarted_container_is_not_read() -> None:
    restarted = running("load")
    restarted["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}

    assert read_pod(pod_body("p", "Running", containers=[restarted])).containers == (
        ContainerState("load", "running", started_at="2030-01-02T03:04:20Z"),
    )


def test_a_container_is_found_by_name_among_init_and_check_containers() -> None:
    state = read_pod(
        pod_body("p", "Running", init=[FETCHED], containers=[running("load"), running("format")])
    )

    assert state.container("fetch") == state.init[0]
    assert state.container("format") == state.containers[1]
    assert state.container("fairness") is None


@pytest.mark.parametrize(
    ("state", "code", "succeeded"),
    [
        ("terminated", 0, True),
        ("terminated", 1, False),
        ("terminated", None, False),
        ("running", 0, False),
        ("waiting", 0, False),
        ("unknown", None, False),
    ],
)
def test_a_container_succeeded_only_when_it_terminated_with_exit_code_0(
    state: Any, code: int | None, succeeded: bool
) -> None:
    assert ContainerState("c", state, exit_code=code).succeeded is succeeded


# --- distrust ---------------------------------------------------------------------------------

RUN = run_of(POD_PLAN, run=1, pod=NAME)
OWN = own(NAME, "Running")


def test_the_operator_s_own_pod_is_trusted() -> None:
    assert RUN.pod_uid == POD_UID
    assert RUN.pod_spec_digest == SPEC_DIGEST
    assert distrust(OWN, RUN, VERSION_UID) is None


UNCHANGED = (
    f"Pod {NAME} was changed after the operator created it (its spec no longer has the digest "
    f"{SPEC_DIGEST})"
)


@pytest.mark.parametrize(
    ("pod", "run", "version_uid", "why"),
    [
        (
            replace(OWN, uid=OTHER_UID),
            RUN,
            VERSION_UID,
            f"Pod {NAME} is not the Pod the operator created for run 1 (its uid {OTHER_UID} is "
            f"not the recorded {POD_UID})",
        ),
        (
            replace(OWN, uid=None),
            RUN,
            VERSION_UID,
            f"Pod {NAME} is not the Pod the operator created for run 1 (its uid None is not the "
            f"recorded {POD_UID})",
        ),
        (
            OWN,
            RUN.model_copy(update={"pod_uid": None, "run": 4}),
            VERSION_UID,
            f"Pod {NAME} is not the Pod the operator created for run 4 (its uid {POD_UID} is not "
            "the recorded None)",
        ),
        (
            replace(OWN, uid=None),
            RUN.model_copy(update={"pod_uid": None}),
            VERSION_UID,
            f"Pod {NAME} is not the Pod the operator created for run 1 (its uid None is not the "
            "recorded None)",
        ),
        (
            replace(OWN, controller_uid=OTHER_UID),
            RUN,
            VERSION_UID,
            f"Pod {NAME} is no longer controlled by this ModelVersion (its ownerReferences)",
        ),
        (
            replace(OWN, controller_uid=None),
            RUN,
            VERSION_UID,
            f"Pod {NAME} is no longer controlled by this ModelVersion (its ownerReferences)",
        ),
        (
            OWN,
            RUN,
            OTHER_UID,
            f"Pod {NAME} is no longer controlled by this ModelVersion (its ownerReferences)",
        ),
        (replace(OWN, spec_digest="sha256:" + "0" * 64), RUN, VERSION_UID, UNCHANGED),
        (replace(OWN, spec_digest=None), RUN, VERSION_UID, UNCHANGED),
        (replace(OWN, fingerprint="sha256:" + "0" * 64), RUN, VERSION_UID, UNCHANGED),
        (replace(OWN, fingerprint=None), RUN, VERSION_UID, UNCHANGED),
        (
            OWN,
            RUN.model_copy(update={"pod_spec_digest": "sha256:" + "1" * 64}),
            VERSION_UID,
            f"Pod {NAME} was changed after the operator created it (its spec no longer has the "
            f"digest sha256:{'1' * 64})",
        ),
    ],
    ids=[
        "another-uid",
        "no-uid",
        "no-recorded-uid",
        "neither-uid",
        "another-controller",
        "no-controller",
        "another-version",
        "annotation-changed",
        "annotation-removed",
        "spec-changed",
        "no-spec",
        "recorded-digest-differs",
    ],
)
def test_a_pod_that_is_not_the_operator_s_own_is_distrusted_saying_why(
    pod: PodState, run: ValidationStatus, version_uid: str, why: str
) -> None:
    assert distrust(pod, run, version_uid) == why


def test_the_uid_is_checked_before_the_owner_and_the_owner_before_the_spec() -> None:
    stranger = replace(OWN, uid=OTHER_UID, controller_uid=None, fingerprint=None)
    orphan = replace(OWN, controller_uid=None, fingerprint=None)

    assert (distrust(stranger, RUN, VERSION_UID) or "").endswith(
        f"(its uid {OTHER_UID} is not the recorded {POD_UID})"
    )
    assert (distrust(orphan, RUN, VERSION_UID) or "").endswith("(its ownerReferences)")


def test_a_pod_read_from_its_body_is_trusted_only_with_the_recorded_spec() -> None:
    changed = {**OWN_SPEC, "containers": [{"name": "format", "image": "evil:1"}]}

    assert distrust(read_pod(pod_body(NAME, "Running")), RUN, VERSION_UID) is None
    assert distrust(read_pod(pod_body(NAME, "Running", spec=changed)), RUN, VERSION_UID) == (
        UNCHANGED
    )
