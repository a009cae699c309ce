"""Stages granted through gates, approvals the API server checks, on the real API server.

People act as themselves here: `alice` holds the `modelregistry-approver` role
in the test's namespace, `bob` may patch a version's status (as approvers
must) but holds no `approve` verb, and every request of theirs reaches the
API server impersonated as them, so its admission policies judge it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest

from modelregistry import client
from modelregistry.reconciler.admission import FRESH_FOR
from tests.integration.conftest import Cluster
from tests.integration.support import (
    Objects,
    OperatorProcess,
    bind_cluster_role,
    impersonating,
    ready_version,
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


def test_staging_is_granted_once_verified_and_validated(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model("clf")
    ready_version(objects, s3_client, bucket, "clf-1", "clf")
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
    ready_version(objects, s3_client, bucket, "clf-1", "clf")
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
    ready_version(objects, s3_client, bucket, "clf-1", "clf")
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
    ready_version(objects, s3_client, bucket, "clf-1", "clf")
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


# --- gates that say no -----------------------------------------------------------------


def test_each_gate_says_what_to_do(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model(
        "clf",
        policy={
            "stages": ["None", "Staging", "Archived"],
            "validation": {"metricThresholds": ["auc >= 0.9"]},
        },
    )
    ready_version(objects, s3_client, bucket, "clf-1", "clf")
    ask(objects, "clf-1", "Production")
    refused = objects.wait_condition(
        "clf-1", "StageGranted", "False", "StageNotAllowed", on_timeout=operator.log_tail
    )
    assert refused["message"] == (
        "Model 'clf' allows the stages None, Staging, Archived (spec.policy.stages), not "
        "Production: set spec.stage to one of them."
    )

    s3_client.put_object(Bucket=bucket, Key="weak.bin", Body=b"weak")
    objects.version(
        "clf-weak",
        "clf",
        f"s3://{bucket}/weak.bin",
        metrics={"auc": 0.5},
        validation={"checks": [{"name": "metrics", "builtin": "metrics"}]},
        stage="Staging",
    )
    failed = objects.wait_condition(
        "clf-weak", "StageGranted", "False", "ValidationFailed", on_timeout=operator.log_tail
    )
    assert failed["message"] == (
        "Staging needs passed checks, and Validated is False: see its message."
    )

    s3_client.put_object(Bucket=bucket, Key="wrong.bin", Body=b"other bytes")
    objects.version(
        "clf-wrong",
        "clf",
        f"s3://{bucket}/wrong.bin",
        artifact={"digest": "sha256:" + "0" * 64},
        stage="Staging",
    )
    objects.wait_condition(
        "clf-wrong", "StageGranted", "False", "NotVerified", on_timeout=operator.log_tail
    )
    for name in ("clf-1", "clf-weak", "clf-wrong"):
        assert stage_of(objects, name) == "None"


def test_a_production_version_whose_bytes_change_loses_its_stage_at_once(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model("clf")
    ready_version(objects, s3_client, bucket, "clf-1", "clf", stage="Production")
    wait_until(lambda: stage_of(objects, "clf-1") == "Production", what="Production")
    wait_until(
        lambda: (objects.get("models", "clf").get("status") or {}).get("production"),
        what="the Model's lock",
    )

    # Overwritten in place: the next periodic re-check (3 s in these tests) sees it.
    s3_client.put_object(Bucket=bucket, Key="clf-1.bin", Body=b"tampered")

    objects.wait_condition("clf-1", "ArtifactVerified", "False", timeout=60)
    wait_until(lambda: stage_of(objects, "clf-1") == "None", what="Production revoked")
    granted = objects.present_condition("clf-1", "StageGranted")
    assert (granted["status"], granted["reason"]) == ("False", "NotVerified")
    status = objects.get("modelversions", "clf-1")["status"]
    last = status["history"][-1]
    assert (last["from"], last["to"], last["reason"]) == ("Production", "None", "StageRevoked")
    assert "deletionProtection" not in status
    assert any(e["reason"] == "StageRevoked" for e in warnings_of(objects, "clf-1"))
    wait_until(
        lambda: not (objects.get("models", "clf").get("status") or {}).get("production"),
        what="the lock released",
    )


def warnings_of(objects: Objects, name: str) -> list[dict[str, Any]]:
    return [e for e in objects.events(name) if e["type"] == "Warning"]


def test_without_the_admission_policy_no_approval_counts(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    people: None,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("clf", policy={"approval": {"requiredFor": ["Production"]}})
    ready_version(objects, s3_client, bucket, "clf-1", "clf")
    client.approve(as_user(cluster, namespace, ALICE), "clf-1", "Production")
    policies = kubernetes.client.AdmissionregistrationV1Api(cluster.api_client)
    binding = policies.read_validating_admission_policy_binding("modelregistry-approvals")
    policies.delete_validating_admission_policy_binding("modelregistry-approvals")
    try:
        time.sleep(FRESH_FOR + 1)  # what the operator found last is stale by now
        ask(objects, "clf-1", "Production")
        missing = objects.wait_condition(
            "clf-1",
            "StageGranted",
            "False",
            "AdmissionPolicyMissing",
            timeout=60,
            on_timeout=operator.log_tail,
        )
        assert missing["message"].startswith(
            "The admission policy modelregistry-approvals (or its binding) is not installed"
        )
        assert stage_of(objects, "clf-1") == "None"
    finally:
        body = binding.to_dict()
        policies.create_validating_admission_policy_binding(
            cast(
                Any,
                {
                    "metadata": {"name": "modelregistry-approvals"},
                    "spec": {
                        "policyName": "modelregistry-approvals",
                        "validationActions": ["Deny"],
                    },
                },
            )
        )
        assert body["spec"]["validation_actions"] == ["Deny"]
    # Once it is back (the operator looks again within 10 s), the approval counts.
    wait_until(
        lambda: stage_of(objects, "clf-1") == "Production",
        timeout=60,
        what="Production once the policy is back",
        on_timeout=operator.log_tail,
    )


# --- Production, held by one version at a time --------------------------------------


class StageWatch:
    """Every change of every version's status.stage in the namespace, as the watch saw it."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self._api = kubernetes.client.CustomObjectsApi(cluster.api_client)
        self._namespace = namespace
        self._stop = threading.Event()
        self.snapshots: list[dict[str, str]] = []  # the stage of each version after each event
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        listing = cast(
            dict[str, Any],
            self._api.list_namespaced_custom_object(
                GROUP, VERSION, self._namespace, "modelversions"
            ),
        )
        stages = {
            i["metadata"]["name"]: (i.get("status") or {}).get("stage") or "None"
            for i in listing["items"]
        }
        self._ready.set()
        watch = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
        events = watch.stream(  # type: ignore[no-untyped-call]
            self._api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self._namespace,
            "modelversions",
            resource_version=listing["metadata"]["resourceVersion"],
            timeout_seconds=120,
        )
        for event in events:
            item: dict[str, Any] = event["object"]
            stages[item["metadata"]["name"]] = (item.get("status") or {}).get("stage") or "None"
            self.snapshots.append(dict(stages))
            if self._stop.is_set():
                watch.stop()  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        self._stop.set()

    def most_in_production(self) -> int:
        return max(
            (sum(stage == "Production" for stage in s.values()) for s in self.snapshots),
            default=0,
        )


def test_two_versions_racing_for_production_never_both_hold_it(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("clf")
    for name in ("clf-a", "clf-b"):
        ready_version(objects, s3_client, bucket, name, "clf")
    watch = StageWatch(cluster, namespace)
    # Both ask at once; the policy's default hand-over is `wait`.
    threads = [
        threading.Thread(target=ask, args=(objects, name, "Production"))
        for name in ("clf-a", "clf-b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    wait_until(
        lambda: (
            sorted(stage_of(objects, n) or "" for n in ("clf-a", "clf-b")) == ["None", "Production"]
        ),
        what="one holder",
        on_timeout=operator.log_tail,
    )
    holder = next(n for n in ("clf-a", "clf-b") if stage_of(objects, n) == "Production")
    waiter = ({"clf-a", "clf-b"} - {holder}).pop()
    held = objects.wait_condition(waiter, "StageGranted", "False", "ProductionHeld")
    assert held["message"].startswith(f"ModelVersion {holder} holds Production")
    lock = objects.get("models", "clf")["status"]["production"]
    assert (lock["holder"], lock.get("incoming")) == (holder, None)

    # The holder steps down: the waiter is granted Production.
    ask(objects, holder, "Archived")
    wait_until(lambda: stage_of(objects, waiter) == "Production", what="the hand-over")
    watch.stop()
    assert watch.snapshots, "the watch saw nothing"
    assert watch.most_in_production() == 1


def test_replace_archives_the_holder_before_the_newcomer_says_production(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("clf", policy={"productionHandover": "replace"})
    ready_version(objects, s3_client, bucket, "clf-a", "clf", stage="Production")
    wait_until(lambda: stage_of(objects, "clf-a") == "Production", what="the first holder")
    ready_version(objects, s3_client, bucket, "clf-b", "clf")
    watch = StageWatch(cluster, namespace)

    ask(objects, "clf-b", "Production")

    wait_until(lambda: stage_of(objects, "clf-b") == "Production", what="the newcomer")
    assert stage_of(objects, "clf-a") == "Archived"
    watch.stop()
    assert watch.most_in_production() == 1
    replaced = objects.get("modelversions", "clf-a")["status"]["history"][-1]
    assert (replaced["from"], replaced["to"], replaced["reason"], replaced["actor"]) == (
        "Production",
        "Archived",
        "Replaced",
        "clf-b",
    )
    # The archived holder still asks for Production, and does not take it back.
    objects.wait_condition("clf-a", "StageGranted", "False", "Replaced")
    assert stage_of(objects, "clf-b") == "Production"


@pytest.mark.parametrize("left_at", ["lock taken", "hand-over begun"])
def test_an_operator_stopped_between_the_lock_and_the_version_s_write_resumes(
    left_at: str,
    operator: OperatorProcess,
    cluster: Cluster,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    """The states a kill -9 can leave between the Model's lock write and the version's,
    made by hand while the operator is down; the restarted operator finishes the job."""
    objects.model("clf", policy={"productionHandover": "replace"})
    ready_version(objects, s3_client, bucket, "clf-a", "clf", stage="Production")
    wait_until(lambda: stage_of(objects, "clf-a") == "Production", what="the first holder")
    ready_version(objects, s3_client, bucket, "clf-b", "clf")
    # Only the operator's own identity may write a version's stage.
    assert cluster.operator_kubeconfig is not None
    as_operator = kubernetes.client.CustomObjectsApi(
        kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(cluster.operator_kubeconfig)
        )
    )
    operator.kill()
    try:
        b = objects.get("modelversions", "clf-b")
        a = objects.get("modelversions", "clf-a")
        if left_at == "lock taken":
            # The Model names b, whose status does not say Production yet; a was fenced.
            lock = {
                "holder": "clf-b",
                "uid": b["metadata"]["uid"],
                "since": _time_after(b["status"]),
            }
            fenced = {
                "time": _time_after(b["status"]),
                "from": "Production",
                "to": "Archived",
                "actor": "clf-b",
                "reason": "Replaced",
                "message": "ModelVersion clf-b took Production.",
                "generation": a["metadata"]["generation"],
            }
            as_operator.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                objects.namespace,
                "modelversions",
                "clf-a",
                {"status": {"stage": "Archived", "history": [*a["status"]["history"], fenced]}},
            )
        else:
            # The Model names b incoming; a still says Production.
            lock = {
                "holder": "clf-a",
                "uid": a["metadata"]["uid"],
                "incoming": {"name": "clf-b", "uid": b["metadata"]["uid"]},
            }
        as_operator.patch_namespaced_custom_object_status(
            GROUP, VERSION, objects.namespace, "models", "clf", {"status": {"production": lock}}
        )
        objects.patch_spec("clf-b", {"stage": "Production"})
    finally:
        operator.start()

    wait_until(
        lambda: (
            (stage_of(objects, "clf-a"), stage_of(objects, "clf-b")) == ("Archived", "Production")
        ),
        what="the hand-over finished",
        on_timeout=operator.log_tail,
    )
    lock = objects.get("models", "clf")["status"]["production"]
    assert (lock["holder"], lock.get("incoming")) == ("clf-b", None)
