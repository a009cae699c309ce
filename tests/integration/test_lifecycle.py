"""Stages granted through gates, approvals the API server checks, on the real API server.

People act as themselves here: `alice` holds the `modelregistry-approver` role
in the test's namespace, `bob` may patch a version's status (as approvers
must) but holds no `approve` verb, and every request of theirs reaches the
API server impersonated as them, so its admission policies judge it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest

from modelregistry import client
from tests.integration.conftest import Cluster
from tests.integration.support import (
    Objects,
    OperatorProcess,
    bind_cluster_role,
    impersonating,
    wait_until,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

GROUP, VERSION = "modelregistry.io", "v1alpha1"
ALICE, BOB = "alice", "bob"


def as_user(cluster: Cluster, namespace: str, user: str) -> client.Session:
    return client.Session(impersonating(cluster.api_client, user), namespace)


@pytest.fixture
def people(cluster: Cluster, namespace: str) -> Iterator[None]:
    """alice may approve; bob may write status but not approve (and neither may do more)."""
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
    bind_cluster_role(cluster.api_client, namespace, "modelregistry-approver", ALICE)
    rbac.create_namespaced_role(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": "status-writer"},
                "rules": [
                    {
                        "apiGroups": [GROUP],
                        "resources": ["modelversions", "modelversions/status", "models"],
                        "verbs": ["get", "list", "watch", "patch", "update"],
                    }
                ],
            },
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": "bob-status-writer"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "status-writer",
                },
                "subjects": [
                    {"kind": "User", "name": BOB, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        ),
    )
    yield


def stage_of(objects: Objects, name: str) -> str | None:
    return cast(str | None, (objects.get("modelversions", name).get("status") or {}).get("stage"))


def ask(objects: Objects, name: str, stage: str) -> None:
    objects.patch_spec(name, {"stage": stage})


def registered(objects: Objects, s3_client: S3Client, bucket: str, name: str, **spec: Any) -> None:
    """A version of Model `clf` with bytes of its own, verified and (no checks) validated."""
    s3_client.put_object(Bucket=bucket, Key=f"{name}.bin", Body=name.encode())
    objects.version(name, "clf", f"s3://{bucket}/{name}.bin", **spec)
    objects.wait_condition(name, "Ready", "True", timeout=60)


def test_staging_is_granted_once_verified_and_validated(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model("clf")
    registered(objects, s3_client, bucket, "clf-1")
    ask(objects, "clf-1", "Staging")

    wait_until(lambda: stage_of(objects, "clf-1") == "Staging", what="status.stage Staging")
    granted = objects.present_condition("clf-1", "StageGranted")
    assert (granted["status"], granted["reason"]) == ("True", "Granted")
    assert granted["message"] == "Staging is granted."
    status = objects.get("modelversions", "clf-1")["status"]
    (entry,) = status["history"]
    assert (entry["from"], entry["to"], entry["reason"]) == ("None", "Staging", "Granted")
    assert objects.present_condition("clf-1", "Ready")["status"] == "True"
    reasons = [e["reason"] for e in objects.events("clf-1")]
    assert "Granted" in reasons


def test_production_waits_for_an_approval_then_is_granted(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    people: None,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("clf", policy={"approval": {"requiredFor": ["Production"]}})
    registered(objects, s3_client, bucket, "clf-1")
    ask(objects, "clf-1", "Production")

    waiting = objects.wait_condition(
        "clf-1", "StageGranted", "False", "ApprovalRequired", on_timeout=operator.log_tail
    )
    assert "modelregistry approve clf-1 --stage Production" in waiting["message"]
    # Waiting for a person is no failure: the version stays Ready, kstatus reads it Current.
    assert objects.present_condition("clf-1", "Ready")["status"] == "True"
    assert objects.condition("clf-1", "Reconciling") is None
    assert objects.condition("clf-1", "Stalled") is None

    entry = client.approve(as_user(cluster, namespace, ALICE), "clf-1", "Production", "ok")
    assert entry["user"] == ALICE

    wait_until(
        lambda: stage_of(objects, "clf-1") == "Production",
        what="Production",
        on_timeout=operator.log_tail,
    )
    status = objects.get("modelversions", "clf-1")["status"]
    assert status["history"][-1]["actor"] == ALICE
    assert status["deletionProtection"] == {"reason": "Production"}


def refusal(call: Any) -> str:
    with pytest.raises(client.Refused) as refused:
        call()
    return str(refused.value)


def test_a_status_writer_without_the_approve_verb_can_forge_nothing(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    people: None,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("clf", policy={"approval": {"requiredFor": ["Production"]}})
    registered(objects, s3_client, bucket, "clf-1")
    bob = as_user(cluster, namespace, BOB)

    def patch(status: dict[str, Any]) -> None:
        try:
            bob.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, "modelversions", "clf-1", {"status": status}
            )
        except kubernetes.client.exceptions.ApiException as error:
            raise client.Refused(json.loads(str(error.body))["message"]) from None

    said = refusal(lambda: patch({"stage": "Production"}))
    assert "ValidatingAdmissionPolicy 'modelregistry-approvals'" in said
    assert "only the operator writes a ModelVersion's status" in said

    conditions = objects.get("modelversions", "clf-1")["status"]["conditions"]
    forged = [{**c, "message": "all good"} if c["type"] == "Ready" else c for c in conditions]
    assert "only the operator writes" in refusal(lambda: patch({"conditions": forged}))

    said = refusal(lambda: client.approve(bob, "clf-1", "Production"))
    assert "user bob may not approve versions of Model clf" in said
    assert "modelregistry-approver" in said

    now = objects.get("modelversions", "clf-1")["status"]
    in_alices_name = {"stage": "Production", "user": ALICE, "time": _time_after(now)}
    said = refusal(lambda: patch({"approvals": [in_alices_name]}))
    assert "an approval must name its approver: user bob, not alice" in said
    assert stage_of(objects, "clf-1") == "None"


def test_an_approver_cannot_approve_for_another_nor_grant_in_the_same_write(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    people: None,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("clf", policy={"approval": {"requiredFor": ["Production"]}})
    registered(objects, s3_client, bucket, "clf-1")
    alice = as_user(cluster, namespace, ALICE)

    def patch(status: dict[str, Any]) -> None:
        try:
            alice.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, "modelversions", "clf-1", {"status": status}
            )
        except kubernetes.client.exceptions.ApiException as error:
            raise client.Refused(json.loads(str(error.body))["message"]) from None

    now = _time_after(objects.get("modelversions", "clf-1")["status"])
    as_bob = {"stage": "Production", "user": BOB, "time": now}
    assert "user alice, not bob" in refusal(lambda: patch({"approvals": [as_bob]}))
    own = {"stage": "Production", "user": ALICE, "time": now}
    said = refusal(lambda: patch({"approvals": [own], "stage": "Production"}))
    assert "only the operator writes" in said
    in_a_group = {**own, "groups": ["system:masters"]}
    assert "only groups its approver is in" in refusal(lambda: patch({"approvals": [in_a_group]}))
    early = {**own, "time": "2000-01-01T00:00:00Z"}
    assert "cannot be dated before the version became Validated" in refusal(
        lambda: patch({"approvals": [early]})
    )
    assert stage_of(objects, "clf-1") == "None"


def _time_after(status: dict[str, Any]) -> str:
    validated = next(c for c in status["conditions"] if c["type"] == "Validated")
    return str(validated["lastTransitionTime"])
