"""KServe's InferenceServices as users of a version, on the real API server with KServe's own CRDs
(hack/fetch-kserve-crds.sh) and the real operator: one whose storageUri or annotation names a
version is recorded in its status and protects it; one elsewhere cannot appear on it; an operator
started before the CRD watches InferenceServices once it is installed, and one whose Role lacks
the rule says so once, keeps working, and watches them once granted.

No KServe controller runs here: an InferenceService is an object the API server stores, which is
all the operator reads.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest

from modelregistry.devenv import user_of
from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster, operator_environment, temporary_namespace
from tests.integration.support import (
    Objects,
    OperatorProcess,
    impersonating,
    ready_version,
    wait_until,
)
from tests.integration.test_chart_install import policies_exempting, refusals
from tests.integration.test_deployments import wait_deployments
from tests.integration.test_rbac import (
    OPERATOR,
    apply_rbac,
    as_the_chart_runs_it,
    holds_the_lease,
    release_namespace,  # noqa: F401 (a fixture)
    service_account_kubeconfig,
)
from tests.integration.test_serving import kserve_crds

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

KSERVE, V1BETA1, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
CRD = f"{PLURAL}.{KSERVE}"
MALLORY = "mallory"
NOT_SERVED = "InferenceServices are not watched: the API server does not serve"
SERVED = "InferenceServices are served (serving.kserve.io/v1beta1): watching them"


def crd_present(extensions: Any, name: str) -> bool:
    try:
        extensions.read_custom_resource_definition(name)
    except kubernetes.client.exceptions.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def remove_kserve(cluster: Cluster) -> None:
    """KServe's CRDs deleted, and gone (their objects with them)."""
    extensions: Any = kubernetes.client.ApiextensionsV1Api(cluster.api_client)
    names = [crd["metadata"]["name"] for crd in kserve_crds()]
    for name in names:
        with contextlib.suppress(kubernetes.client.exceptions.ApiException):
            extensions.delete_custom_resource_definition(name)
    wait_until(
        lambda: not any(crd_present(extensions, n) for n in names),
        timeout=60,
        what="KServe's CRDs to be gone",
    )


@contextlib.contextmanager
def kserve_installed(cluster: Cluster) -> Iterator[None]:
    """KServe's CRDs, established, for a while; deleted (and waited for) afterwards."""
    extensions: Any = kubernetes.client.ApiextensionsV1Api(cluster.api_client)
    remove_kserve(cluster)  # whatever an earlier test left
    for crd in kserve_crds():
        extensions.create_custom_resource_definition(cast(Any, crd))

    def established() -> bool:
        crd = extensions.read_custom_resource_definition(CRD)
        conditions = crd.status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_until(established, what="KServe's CRDs to be established")
    try:
        yield
    finally:
        remove_kserve(cluster)


@pytest.fixture
def kserve(cluster: Cluster) -> Iterator[None]:
    with kserve_installed(cluster):
        yield


def inference_service(
    api_client: kubernetes.client.ApiClient,
    namespace: str,
    name: str,
    *,
    storage_uri: str = "s3://models/elsewhere",
    uses: str | None = None,
) -> None:
    """An InferenceService as examples/serving/kserve/inferenceservice.yaml writes one."""
    meta: dict[str, Any] = {"name": name}
    if uses is not None:
        meta["annotations"] = {"modelregistry.io/uses": uses}
    body = {
        "apiVersion": f"{KSERVE}/{V1BETA1}",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "sklearn"}, "storageUri": storage_uri},
            }
        },
    }
    kubernetes.client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        KSERVE, V1BETA1, namespace, PLURAL, body
    )


def delete_inference_service(cluster: Cluster, namespace: str, name: str) -> None:
    kubernetes.client.CustomObjectsApi(cluster.api_client).delete_namespaced_custom_object(
        KSERVE, V1BETA1, namespace, PLURAL, name
    )


def grant_inference_services(cluster: Cluster, namespace: str, user: str) -> None:
    """`user` may create and read InferenceServices in `namespace` (KServe's own ClusterRoles
    are not installed here, so `edit` does not cover them)."""
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
    rule = {"apiGroups": [KSERVE], "resources": [PLURAL], "verbs": ["get", "list", "create"]}
    rbac.create_namespaced_role(
        namespace, cast(Any, {"metadata": {"name": "isvc-author"}, "rules": [rule]})
    )
    rbac.create_namespaced_role_binding(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": f"{user}-isvc-author"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "isvc-author",
                },
                "subjects": [
                    {"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        ),
    )


def protection(objects: Objects, name: str) -> object:
    return (objects.get("modelversions", name).get("status") or {}).get("deletionProtection")


def test_an_inference_service_naming_a_version_is_recorded_protects_it_and_frees_it_when_gone(
    operator: OperatorProcess,
    kserve: None,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("churn", aliases={"champion": 1})
    ready_version(objects, s3_client, bucket, "churn-1", "churn")
    ready_version(objects, s3_client, bucket, "churn-2", "churn")

    inference_service(
        cluster.api_client,
        namespace,
        "churn-server",
        storage_uri=f"modelregistry://{namespace}/churn@champion",
    )
    inference_service(cluster.api_client, namespace, "churn-canary", uses="churn@2")
    inference_service(cluster.api_client, namespace, "unrelated")  # names no version
    server = f"InferenceService {namespace}/churn-server"
    canary = f"InferenceService {namespace}/churn-canary"
    assert wait_deployments(objects, "churn-1", 1) == [server]
    assert wait_deployments(objects, "churn-2", 1) == [canary]

    def model_counts() -> tuple[object, object]:
        status = objects.get("models", "churn").get("status") or {}
        return status.get("deployments"), (status.get("counts") or {}).get("inUse")

    wait_until(lambda: model_counts() == (2, 2), what="the Model's counts", timeout=30)

    # Deleting it is refused, naming the InferenceService.
    wait_until(
        lambda: protection(objects, "churn-1") == {"reason": "InUse", "users": server},
        timeout=30,
        what="the deletion protection of a version in use",
    )

    def refused_dry_run() -> bool:
        tried = cluster.kubectl_run(
            "delete", "modelversion", "churn-1", "-n", namespace, "--dry-run=server", check=False
        )
        return tried.returncode != 0

    wait_until(refused_dry_run, timeout=30, what="the deletion to be refused")
    deleted = cluster.kubectl_run("delete", "modelversion", "churn-1", "-n", namespace, check=False)
    assert deleted.returncode != 0
    assert "ValidatingAdmissionPolicy 'modelregistry-deletion'" in deleted.stderr
    assert f"ModelVersion churn-1 is in use by {server} (status.deployments)" in deleted.stderr

    # Archiving the annotated one waits, naming it.
    objects.patch_spec("churn-2", {"stage": "Archived"})
    waiting = objects.wait_condition("churn-2", "StageGranted", "False", "InUse", timeout=30)
    assert f"Archived is refused: this version is in use by {canary}" in waiting["message"]

    # The InferenceServices go: both versions are free.
    delete_inference_service(cluster, namespace, "churn-server")
    delete_inference_service(cluster, namespace, "churn-canary")
    wait_deployments(objects, "churn-1", 0)
    wait_until(
        lambda: objects.get("modelversions", "churn-2")["status"].get("stage") == "Archived",
        timeout=30,
        what="churn-2 archived once its InferenceService is gone",
    )
    wait_until(
        lambda: protection(objects, "churn-1") is None,
        timeout=30,
        what="churn-1's protection lifted",
    )
    wait_until(lambda: not refused_dry_run(), timeout=30, what="the deletion to be admitted")
    cluster.kubectl_run("delete", "modelversion", "churn-1", "-n", namespace)
    wait_until(lambda: model_counts() == (None, None), what="the Model's counts after", timeout=30)


def test_an_inference_service_in_another_namespace_cannot_appear_on_a_version(
    operator: OperatorProcess,
    kserve: None,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("churn", aliases={"champion": 1})
    ready_version(objects, s3_client, bucket, "churn-1", "churn")
    with temporary_namespace(cluster, "t-other-") as other:
        # mallory may create InferenceServices in her namespace, and names our version in both
        # ways an InferenceService can.
        grant_inference_services(cluster, other, MALLORY)
        mallory = impersonating(cluster.api_client, MALLORY)
        inference_service(
            mallory,
            other,
            "claims-theirs",
            storage_uri=f"modelregistry://{namespace}/churn@champion",
            uses=f"modelregistry://{namespace}/churn@1",
        )
        # One of ours, made after hers, is recorded: the operator has seen hers by then.
        inference_service(
            cluster.api_client,
            namespace,
            "ours",
            storage_uri=f"modelregistry://{namespace}/churn@1",
        )
        assert wait_deployments(objects, "churn-1", 1) == [f"InferenceService {namespace}/ours"]
        time.sleep(1)  # a few of the session operator's windows (0.2 s): still only ours
        status = objects.get("modelversions", "churn-1")["status"]
        assert status["deploymentCount"] == 1
        assert [d["name"] for d in status["deployments"]] == ["ours"]


@pytest.fixture
def own_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace the session's operator leaves alone (mr-incluster-*), for an operator here."""
    with temporary_namespace(cluster, "mr-incluster-isvc-") as name:
        yield name


def test_an_operator_started_before_the_crd_watches_inference_services_once_it_is_installed(
    cluster: Cluster,
    own_namespace: str,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    remove_kserve(cluster)
    process = OperatorProcess(
        {**operator_environment(cluster, s3), "MODELREGISTRY_HTTP_PORT": "0"},
        tmp_path / "operator.log",
        namespace=own_namespace,
    )
    objects = Objects(cluster.api_client, own_namespace)
    try:
        process.start()
        objects.model("churn")
        ready_version(objects, s3_client, bucket, "churn-1", "churn")
        # Said once, not in a loop: the check interval here is 1 s.
        time.sleep(3)
        log = process.log()
        assert log.count(NOT_SERVED) == 1, process.log_tail()
        assert "(the CRD inferenceservices.serving.kserve.io is not installed)" in log
        assert "listing /apis/serving.kserve.io" not in log

        with kserve_installed(cluster):
            inference_service(
                cluster.api_client,
                own_namespace,
                "churn-server",
                storage_uri=f"modelregistry://{own_namespace}/churn@1",
            )
            assert wait_deployments(objects, "churn-1", 1) == [
                f"InferenceService {own_namespace}/churn-server"
            ]
            assert f"{SERVED} in namespace {own_namespace}" in process.log()
        # The CRD goes, and its InferenceServices with it: the version is free again, and the
        # operator waits for the CRD as before.
        wait_deployments(objects, "churn-1", 0)
        wait_until(
            lambda: process.log().count(NOT_SERVED) == 2,
            timeout=30,
            what="the operator to say InferenceServices are not watched again",
            on_timeout=process.log_tail,
        )
        assert process.running
        assert "Traceback" not in process.log()
    finally:
        process.stop()


def test_an_operator_whose_role_lacks_the_rule_says_so_once_and_watches_once_granted(
    cluster: Cluster,
    kserve: None,
    release_namespace: str,  # noqa: F811
    own_namespace: str,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    watched = own_namespace
    scope = ("--set", "rbac.scope=namespaced", "--set", f"watchNamespaces={{{watched}}}")
    env = apply_rbac(cluster, release_namespace, *scope)
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
    role = rbac.read_namespaced_role(OPERATOR, watched, _preload_content=False)
    chart_role = cast(dict[str, Any], json.loads(cast(Any, role).data))
    rule = {"apiGroups": [KSERVE], "resources": [PLURAL], "verbs": ["get", "list", "watch"]}
    assert rule in chart_role["rules"]  # the chart grants it
    trimmed = [r for r in chart_role["rules"] if r != rule]
    rbac.patch_namespaced_role(OPERATOR, watched, {"rules": trimmed})

    kubeconfig = service_account_kubeconfig(cluster, release_namespace, tmp_path / "kubeconfig")
    limited = as_the_chart_runs_it(cluster, s3, env, kubeconfig, tmp_path / "operator.log", watched)
    objects = Objects(cluster.api_client, watched)
    forbidden = (
        f"InferenceServices are not watched in namespace {watched}: the operator may not list "
        "inferenceservices.serving.kserve.io there; grant it get, list, watch on "
        "inferenceservices in apiGroup serving.kserve.io"
    )
    try:
        with policies_exempting(cluster, user_of(str(kubeconfig))):
            limited.start()
            wait_until(
                lambda: holds_the_lease(cluster, release_namespace),
                what="the operator to hold the Lease",
                on_timeout=limited.log_tail,
            )
            inference_service(
                cluster.api_client,
                watched,
                "churn-server",
                storage_uri=f"modelregistry://{watched}/churn@1",
            )
            # The rest works as before.
            objects.model("churn")
            ready_version(objects, s3_client, bucket, "churn-1", "churn")
            time.sleep(3)  # three check intervals: one line, no loop
            assert limited.log().count(forbidden) == 1, limited.log_tail()
            assert refusals(limited.log()) == []
            assert limited.running

            # Granted: watched without a restart.
            rbac.patch_namespaced_role(OPERATOR, watched, {"rules": chart_role["rules"]})
            assert wait_deployments(objects, "churn-1", 1) == [
                f"InferenceService {watched}/churn-server"
            ]
            assert f"{SERVED} in namespace {watched}" in limited.log()
    finally:
        limited.stop()
