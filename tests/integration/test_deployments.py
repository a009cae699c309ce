"""Where each version runs, on the real API server and operator: Pods that name a version are
recorded in its status (and counted on its Model, shown by `kubectl get`), leave it when they
finish or go, and a Pod elsewhere, or a status writer, cannot put itself on a version.

Pods here need no node: a Pending Pod already names what it will fetch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest

from tests.integration.conftest import Cluster, temporary_namespace
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
MALLORY = "mallory"


def pod(
    core: kubernetes.client.CoreV1Api,
    namespace: str,
    name: str,
    *,
    args: list[str] | None = None,
    uses: str | None = None,
) -> None:
    """A Pod with a fetch init container (never scheduled here: Pending is enough)."""
    meta: dict[str, Any] = {"name": name}
    if uses is not None:
        meta["annotations"] = {"modelregistry.io/uses": uses}
    body = {
        "metadata": meta,
        "spec": {
            "automountServiceAccountToken": False,
            "nodeSelector": {"modelregistry.io/test": "nowhere"},
            "initContainers": [{"name": "fetch", "image": "fetch:test", "args": args or []}],
            "containers": [{"name": "serve", "image": "serve:test"}],
        },
    }

    def created() -> bool:
        try:
            core.create_namespaced_pod(namespace, cast(Any, body))
        except kubernetes.client.exceptions.ApiException as error:
            if error.status == 403 and "serviceaccount" in str(error.body):
                return False  # the namespace's default ServiceAccount is not there yet
            raise
        return True

    wait_until(created, timeout=30, what=f"Pod {name} to be admitted")


def deployments(objects: Objects, name: str) -> tuple[int, list[str]]:
    status = objects.get("modelversions", name).get("status") or {}
    listed = [f"{d['kind']} {d['namespace']}/{d['name']}" for d in status.get("deployments") or []]
    return int(status.get("deploymentCount") or 0), listed


def wait_deployments(objects: Objects, name: str, count: int) -> list[str]:
    def reached() -> list[str] | None:
        found, listed = deployments(objects, name)
        return listed if found == count else None

    wait_until(
        lambda: reached() is not None,
        timeout=30,
        what=f"{name}: deploymentCount {count}",
        on_timeout=lambda: str(deployments(objects, name)),
    )
    return deployments(objects, name)[1]


def test_pods_naming_a_version_are_recorded_counted_and_leave(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    core = objects.core
    objects.model("churn", aliases={"champion": 1})
    ready_version(objects, s3_client, bucket, "churn-1", "churn")
    ready_version(objects, s3_client, bucket, "churn-2", "churn")

    pod(core, namespace, "server-a", args=["fetch", f"modelregistry://{namespace}/churn@champion"])
    pod(core, namespace, "server-b", uses="churn@1")
    pod(core, namespace, "server-c", uses="churn@2, churn@1")
    assert wait_deployments(objects, "churn-1", 3) == [
        f"Pod {namespace}/server-a",
        f"Pod {namespace}/server-b",
        f"Pod {namespace}/server-c",
    ]
    assert wait_deployments(objects, "churn-2", 1) == [f"Pod {namespace}/server-c"]
    since = objects.get("modelversions", "churn-1")["status"]["deployments"][0]["since"]
    raw = core.read_namespaced_pod("server-a", namespace, _preload_content=False)
    read = json.loads(cast(Any, raw).data)
    assert since == read["metadata"]["creationTimestamp"]

    def model_counts() -> tuple[object, object]:
        status = objects.get("models", "churn").get("status") or {}
        return status.get("deployments"), (status.get("counts") or {}).get("inUse")

    wait_until(lambda: model_counts() == (4, 2), what="the Model's counts", timeout=30)

    table = cluster.kubectl_run("get", "modelversions", "-n", namespace).stdout.splitlines()
    header = table[0].split()
    assert "IN" in header and "USE" in header, table
    rows = {line.split()[0]: line for line in table[1:]}
    column = table[0].index("IN USE")
    assert rows["churn-1"][column:].split()[0] == "3", table
    assert rows["churn-2"][column:].split()[0] == "1", table

    # The alias moves: the Pod that names it now uses what it would fetch.
    objects.api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "models", "churn", {"spec": {"aliases": {"champion": 2}}}
    )
    assert wait_deployments(objects, "churn-2", 2) == [
        f"Pod {namespace}/server-a",
        f"Pod {namespace}/server-c",
    ]
    wait_deployments(objects, "churn-1", 2)

    # A finished Pod uses nothing; a deleted one is gone from the record.
    core.patch_namespaced_pod_status("server-b", namespace, {"status": {"phase": "Succeeded"}})
    assert wait_deployments(objects, "churn-1", 1) == [f"Pod {namespace}/server-c"]
    core.delete_namespaced_pod("server-c", namespace, grace_period_seconds=0)
    wait_deployments(objects, "churn-1", 0)
    status = objects.get("modelversions", "churn-1")["status"]
    assert "deployments" not in status and "deploymentCount" not in status
    wait_until(lambda: model_counts() == (1, 1), what="the Model's counts after", timeout=30)


def test_the_record_is_bounded_and_written_once_per_burst(
    operator: OperatorProcess,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    core = objects.core
    objects.model("churn")
    ready_version(objects, s3_client, bucket, "churn-1", "churn")
    before = objects.get("modelversions", "churn-1")["metadata"]["resourceVersion"]
    for i in range(25):
        pod(core, namespace, f"replica-{i:02d}", uses="churn@1")
    listed = wait_deployments(objects, "churn-1", 25)
    assert listed == [f"Pod {namespace}/replica-{i:02d}" for i in range(20)]
    # Pod churn is coalesced: far fewer writes of the record than Pods (one per window).
    writes = _recorded_since(objects, "churn-1", before)
    assert 1 <= len(writes) < 25, writes
    assert writes[-1] == 25


def _recorded_since(objects: Objects, name: str, resource_version: str) -> list[int]:
    """Each deploymentCount the ModelVersion's changes after `resource_version` wrote."""
    watch = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
    seen: list[int] = []
    for event in watch.stream(  # type: ignore[no-untyped-call]
        objects.api.list_namespaced_custom_object,
        GROUP,
        VERSION,
        objects.namespace,
        "modelversions",
        field_selector=f"metadata.name={name}",
        resource_version=resource_version,
        timeout_seconds=1,
    ):
        count = int((event["object"].get("status") or {}).get("deploymentCount") or 0)
        if event["type"] == "MODIFIED" and count != (seen[-1] if seen else 0):
            seen.append(count)
    return seen


def test_a_pod_in_another_namespace_or_a_status_writer_cannot_appear_on_a_version(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("churn")
    ready_version(objects, s3_client, bucket, "churn-1", "churn")
    with temporary_namespace(cluster, "t-other-") as other:
        # mallory may do anything in her namespace, and write ModelVersion status in ours.
        bind_cluster_role(cluster.api_client, other, "edit", MALLORY)
        rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
        rbac.create_namespaced_role(
            namespace,
            cast(
                Any,
                {
                    "metadata": {"name": "status-writer"},
                    "rules": [
                        {
                            "apiGroups": [GROUP],
                            "resources": ["modelversions", "modelversions/status"],
                            "verbs": ["get", "list", "patch"],
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
                    "metadata": {"name": "mallory-status-writer"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": "status-writer",
                    },
                    "subjects": [
                        {"kind": "User", "name": MALLORY, "apiGroup": "rbac.authorization.k8s.io"}
                    ],
                },
            ),
        )
        mallory = impersonating(cluster.api_client, MALLORY)
        theirs = kubernetes.client.CoreV1Api(mallory)
        pod(
            theirs,
            other,
            "claims-theirs",
            args=[f"modelregistry://{namespace}/churn@1"],
            uses=f"modelregistry://{namespace}/churn@1",
        )
        # A Pod of ours that names it is recorded, so the operator has looked by then.
        pod(objects.core, namespace, "ours", uses="churn@1")
        assert wait_deployments(objects, "churn-1", 1) == [f"Pod {namespace}/ours"]

        forged = {
            "deployments": [{"kind": "Pod", "namespace": namespace, "name": "fake", "since": "x"}],
            "deploymentCount": 2,
        }
        with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
            kubernetes.client.CustomObjectsApi(mallory).patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, "modelversions", "churn-1", {"status": forged}
            )
        said = json.loads(str(refused.value.body))["message"]
        assert "ValidatingAdmissionPolicy 'modelregistry-approvals'" in said
        assert deployments(objects, "churn-1") == (1, [f"Pod {namespace}/ours"])


def test_a_version_in_use_is_neither_archived_nor_deleted_until_its_users_go(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    core = objects.core
    objects.model("churn")
    ready_version(objects, s3_client, bucket, "churn-1", "churn")
    pod(core, namespace, "server-a", args=[f"modelregistry://{namespace}/churn@1"])
    wait_deployments(objects, "churn-1", 1)
    user = f"Pod {namespace}/server-a"
    wait_until(
        lambda: (
            (objects.get("modelversions", "churn-1")["status"].get("deletionProtection"))
            == {"reason": "InUse", "users": user}
        ),
        what="the deletion protection of a version in use",
    )

    # Admission reads the stored object: a dry run at the API server says when it refuses.
    def refused_dry_run() -> bool:
        tried = cluster.kubectl_run(
            "delete", "modelversion", "churn-1", "-n", namespace, "--dry-run=server", check=False
        )
        return tried.returncode != 0

    wait_until(
        refused_dry_run,
        timeout=30,
        what="the deletion to be refused",
        on_timeout=lambda: (
            cluster.kubectl_run(
                "get", "validatingadmissionpolicybindings", "-o", "name", check=False
            ).stdout
        ),
    )
    deleted = cluster.kubectl_run("delete", "modelversion", "churn-1", "-n", namespace, check=False)
    assert deleted.returncode != 0
    assert "ValidatingAdmissionPolicy 'modelregistry-deletion'" in deleted.stderr
    assert f"ModelVersion churn-1 is in use by {user} (status.deployments)" in deleted.stderr

    objects.patch_spec("churn-1", {"stage": "Archived"})
    refused = objects.wait_condition("churn-1", "StageGranted", "False", "InUse", timeout=30)
    assert f"Archived is refused: this version is in use by {user}" in refused["message"]
    assert objects.get("modelversions", "churn-1")["status"].get("stage", "None") == "None"

    # The Pod goes: the version is archived as asked, and may be deleted.
    core.delete_namespaced_pod("server-a", namespace, grace_period_seconds=0)
    objects.wait_stage("churn-1", "Archived", timeout=30)
    assert objects.present_condition("churn-1", "StageGranted")["reason"] == "Granted"
    status = objects.get("modelversions", "churn-1")["status"]
    assert "deletionProtection" not in status and "deploymentCount" not in status
    cluster.kubectl_run("delete", "modelversion", "churn-1", "-n", namespace)


def test_a_model_may_let_versions_in_use_be_archived_and_deleted(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("churn", policy={"protectInUse": False})
    ready_version(objects, s3_client, bucket, "churn-1", "churn")
    pod(objects.core, namespace, "server-a", uses="churn@1")
    wait_deployments(objects, "churn-1", 1)

    objects.patch_spec("churn-1", {"stage": "Archived"})
    objects.wait_stage("churn-1", "Archived", timeout=30)
    assert objects.present_condition("churn-1", "StageGranted")["reason"] == "Granted"
    status = objects.get("modelversions", "churn-1")["status"]
    assert "deletionProtection" not in status
    assert status["deploymentCount"] == 1  # still recorded: only the protection is off
    cluster.kubectl_run("delete", "modelversion", "churn-1", "-n", namespace)
