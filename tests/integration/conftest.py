"""Session fixtures: one control plane, one S3 server, one operator.

By default the local control plane (etcd + kube-apiserver +
kube-controller-manager + kube-scheduler, built by hack/build-tools.sh) is
started on loopback; tests that need Pods to run request `node`, which joins a
local kubelet + containerd to it once per session. Set
MODELREGISTRY_TEST_USE_KUBECONFIG=1 to run the same suite against the cluster
in KUBECONFIG instead (e.g. kind): then `node` is None and Pods run on that
cluster's nodes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import boto3
import kubernetes
import pytest

from modelregistry import admission
from modelregistry.devenv import user_of
from modelregistry.install import install_admission, install_crds
from modelregistry.localenv import ControlPlane, Node, S3Server
from modelregistry.localenv.image import ensure_image
from modelregistry.localenv.images import busybox_archive, pinned_reference
from modelregistry.localenv.ociregistry import OciRegistry
from tests.integration.support import Objects, OperatorProcess, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Short intervals so periodic checks and retries happen within a test.
OPERATOR_SETTINGS = {
    "MODELREGISTRY_CHECK_INTERVAL": "1",
    "MODELREGISTRY_REVERIFY_INTERVAL": "3",
    "MODELREGISTRY_RETRY_BASE_DELAY": "0.5",
    "MODELREGISTRY_RETRY_MAX_DELAY": "2",
    "MODELREGISTRY_MODEL_REFRESH_WINDOW": "0.2",
    # Every namespace but those where a test installs the chart: there the
    # operator runs in-cluster, and two operators must not act on one object.
    "MODELREGISTRY_NAMESPACES": "!mr-incluster-*",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start a registry of their own (`make run`) go first.

    A machine runs one local node at a time, and the session's node starts
    with the first test that needs it and stays up until the end.
    """
    items.sort(key=lambda item: item.get_closest_marker("own_environment") is None)


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    kubectl: Path
    api_client: kubernetes.client.ApiClient
    # The local control plane; None for the cluster in KUBECONFIG.
    plane: ControlPlane | None = None
    # What the operator authenticates with: its own identity, apart from the tests' (admin).
    operator_kubeconfig: Path | None = None

    def kubectl_run(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.environ.get("MODELREGISTRY_TEST_USE_KUBECONFIG") == "1":
        kubeconfig = Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config"))
        kubectl = Path(shutil.which("kubectl") or "kubectl")
        yield _connect(kubeconfig, kubectl)
        return
    with ControlPlane(workdir=tmp_path_factory.mktemp("controlplane")) as plane:
        yield _connect(plane.kubeconfig, plane.kubectl, plane)


def _connect(kubeconfig: Path, kubectl: Path, plane: ControlPlane | None = None) -> Cluster:
    api_client = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    operator_kubeconfig = plane.operator_kubeconfig if plane is not None else kubeconfig
    install_crds(api_client, operator_user=user_of(str(operator_kubeconfig)))
    return Cluster(
        kubeconfig=kubeconfig,
        kubectl=kubectl,
        api_client=api_client,
        plane=plane,
        operator_kubeconfig=operator_kubeconfig,
    )


@pytest.fixture
def cluster_for_make_run(cluster: Cluster) -> Iterator[Cluster]:
    """The session's cluster, lent to a `make run CLUSTER=kubeconfig`.

    That run installs the admission policies for its own user (the tests' admin), which
    would refuse the session operator's status writes; afterwards they exempt the session
    operator again.
    """
    yield cluster
    if cluster.operator_kubeconfig is not None:
        install_admission(cluster.api_client, user_of(str(cluster.operator_kubeconfig)))


@pytest.fixture(scope="session")
def node(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node | None]:
    """A local kubelet + containerd joined to the session's control plane, started once.

    None when the suite runs against the cluster in KUBECONFIG, which has its own nodes.
    """
    if cluster.plane is None:
        yield None
        return
    with Node(cluster.plane, workdir=tmp_path_factory.mktemp("node")) as local_node:
        yield local_node


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with S3Server(workdir=tmp_path_factory.mktemp("s3")) as server:
        yield server


# The user and password of the tests' registry that asks for credentials.
OCI_USER, OCI_PASSWORD = "puller", "pulls-models"


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    """A real OCI registry (distribution v3) on loopback, open to anyone, plain HTTP."""
    with OciRegistry(workdir=tmp_path_factory.mktemp("oci")) as registry:
        yield registry


@pytest.fixture(scope="session")
def oci_registry_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    """The same registry asking for OCI_USER's password (htpasswd, Basic)."""
    users = {OCI_USER: OCI_PASSWORD}
    with OciRegistry(workdir=tmp_path_factory.mktemp("oci-auth"), users=users) as registry:
        yield registry


@pytest.fixture(scope="session")
def s3_client(s3: S3Server) -> S3Client:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name=s3.region,
    )


@dataclass(frozen=True)
class PodRuntime:
    """What validation Pods on the local node use: the project's image, and S3 as Pods reach it."""

    image: str
    s3_endpoint: str
    # The tests' busybox image, named by digest: a custom check's image by tag is pulled
    # every time (`Always`), and nothing can be pulled here.
    busybox: str
    # MODELREGISTRY_VALIDATION_REGISTRIES: the tests' OCI registries as Pods reach them.
    registries: str = ""


@pytest.fixture(scope="session")
def pod_runtime(
    node: Node | None,
    s3: S3Server,
    oci_registry: OciRegistry,
    oci_registry_auth: OciRegistry,
) -> PodRuntime | None:
    """The project's image imported into the node, and a way from Pods to the S3 server.

    None against the cluster in KUBECONFIG: it has no access to this host's
    image cache or loopback, and validation Pods are not tested there.
    """
    if node is None:
        return None
    image = ensure_image()
    node.import_image(image.archive)
    # Custom checks in the tests run a static busybox.
    busybox = busybox_archive()
    (name,) = node.import_image(busybox)
    pinned = node.tag_image(name, pinned_reference(busybox))
    port = urlsplit(s3.endpoint_url).port
    assert port is not None
    forwarder = node.forward(port, name="s3")
    registries = " ".join(
        f"{r.host}={node.node_ip}:{node.forward(r.port, name='oci').port}"
        for r in (oci_registry, oci_registry_auth)
    )
    return PodRuntime(
        image.reference, f"http://{node.node_ip}:{forwarder.port}", pinned, registries
    )


def operator_environment(
    cluster: Cluster, s3: S3Server, pods: PodRuntime | None = None
) -> dict[str, str]:
    environment = {
        "KUBECONFIG": str(cluster.operator_kubeconfig or cluster.kubeconfig),
        "MODELREGISTRY_S3_ENDPOINT": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
        **OPERATOR_SETTINGS,
    }
    if pods is not None:
        environment.update(
            MODELREGISTRY_VALIDATION_IMAGE=pods.image,
            MODELREGISTRY_VALIDATION_IMAGE_PULL_POLICY="Never",
            MODELREGISTRY_VALIDATION_S3_ENDPOINT=pods.s3_endpoint,
            MODELREGISTRY_VALIDATION_REGISTRIES=pods.registries,
        )
    return environment


@pytest.fixture(scope="session")
def operator(
    cluster: Cluster,
    s3: S3Server,
    pod_runtime: PodRuntime | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        operator_environment(cluster, s3, pod_runtime),
        tmp_path_factory.mktemp("operator") / "operator.log",
    )
    process.start()
    yield process
    process.stop()


@contextlib.contextmanager
def temporary_namespace(cluster: Cluster, prefix: str) -> Iterator[str]:
    """A namespace of its own, `<prefix><random>`, deleted afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    core.create_namespace(cast(Any, {"metadata": {"name": name}}))
    yield name
    if not holds_protected_versions(cluster, name):
        core.delete_namespace(name)
        return
    # What the admission policies protect cannot be deleted, not even with its
    # namespace: lift the deletion guards while this test's namespace goes.
    policies = kubernetes.client.AdmissionregistrationV1Api(cluster.api_client)
    guards = (admission.DELETION, admission.MODEL_DELETION)
    for guard in guards:
        policies.delete_validating_admission_policy_binding(guard)
    try:
        core.delete_namespace(name)
        wait_until(lambda: _gone(core, name), timeout=120, what=f"namespace {name} to go")
    finally:
        bindings = [
            m
            for m in admission.manifests("unused")
            if m["kind"] == "ValidatingAdmissionPolicyBinding" and m["metadata"]["name"] in guards
        ]
        for binding in bindings:
            policies.create_validating_admission_policy_binding(cast(Any, binding))


def holds_protected_versions(cluster: Cluster, namespace: str) -> bool:
    listing = kubernetes.client.CustomObjectsApi(cluster.api_client).list_namespaced_custom_object(
        "modelregistry.io", "v1alpha1", namespace, "modelversions"
    )
    return any(
        (item.get("status") or {}).get("deletionProtection")
        or (item.get("status") or {}).get("stage") == "Production"
        for item in cast(dict[str, Any], listing)["items"]
    )


def _gone(core: kubernetes.client.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name)
    except kubernetes.client.exceptions.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    with temporary_namespace(cluster, "t-") as name:
        yield name


@pytest.fixture
def busybox(pod_runtime: PodRuntime | None) -> str:
    """The tests' busybox image by digest (a custom image by tag would be pulled `Always`)."""
    if pod_runtime is None:
        pytest.skip("validation Pods run on the local node (not against KUBECONFIG's cluster)")
    return pod_runtime.busybox


@pytest.fixture
def restricted(cluster: Cluster, namespace: str, pod_runtime: PodRuntime | None) -> str:
    """The test's namespace, enforcing the restricted profile; skips without a local node."""
    if pod_runtime is None:
        pytest.skip("validation Pods run on the local node (not against KUBECONFIG's cluster)")
    kubernetes.client.CoreV1Api(cluster.api_client).patch_namespace(
        namespace,
        {
            "metadata": {
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                }
            }
        },
    )
    return namespace


@pytest.fixture
def objects(cluster: Cluster, namespace: str) -> Objects:
    return Objects(cluster.api_client, namespace)


@pytest.fixture
def bucket(s3_client: S3Client) -> str:
    """A fresh versioned bucket for one test."""
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
