"""The Helm chart installed for real: the operator runs in-cluster as the chart's Deployment.

The project's image, built from the Dockerfile (`ensure_image()`) and imported
into the local node by the session, and `helm install` runs the chart into a namespace of its
own where Pod Security Admission enforces the restricted profile. The operator
in its Pod then takes versions through their lifecycle against the S3 server on
the host, with the chart's ServiceAccount and RBAC and nothing else: in cluster
mode (a ClusterRole) and in namespaced mode (Roles in the watched namespace only).

The admission policies are cluster-wide, and the session installed them for its
own host operator; the chart is installed with `admission.install=false`, and
for each test the policies exempt both operators, as a cluster admin would name
a second release's operator in `admission.extraOperators`.

How Pods reach the host's servers here (the local node has no kube-proxy and
no cluster DNS, and Pods cannot reach the host's 127.0.0.1): the node
forwards its IP's port 443 to the API server, and the chart's `apiServer` and
`hostAliases` values point the operator there (`Node.in_cluster_api_overrides`);
`s3.endpoint` is the session's forwarder from a node IP port to versitygw
(fixture `pod_runtime`, which validation Pods use too). The kubelet probes
the Pod on its own address.

Against a cluster in KUBECONFIG (MODELREGISTRY_TEST_USE_KUBECONFIG=1, e.g.
`make e2e-kind`) the Service and DNS are real and the chart needs none of
that; the image must be on the cluster's nodes already
(MODELREGISTRY_TEST_OPERATOR_IMAGE, e.g. after `kind load`) and
MODELREGISTRY_TEST_POD_HOST_ADDRESS names an address of this machine the
cluster's Pods reach (for kind, its Docker network's gateway), where the test
forwards to versitygw. Without them the tests are skipped, saying so.

The session's host operator (fixture `operator`) ignores namespaces named
mr-incluster-* (conftest.py), so only the in-cluster operator acts here.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import kubernetes
import pytest
import yaml

from modelregistry import client
from modelregistry.devenv import user_of
from modelregistry.install import install_admission
from modelregistry.localenv import Node, S3Server
from modelregistry.localenv.forward import Forwarder
from tests.integration.conftest import Cluster, PodRuntime, temporary_namespace
from tests.integration.support import (
    CHART,
    Objects,
    bind_cluster_role,
    helm,
    impersonating,
    wait_until,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

# conftest.py keeps the session's host operator out of these namespaces.
NAMESPACE_PREFIX = "mr-incluster-"
# As the chart installs by default: one Pod leads (holds the Lease), one stands by.
REPLICAS = 2
APPROVER = "alice"


@dataclass(frozen=True)
class PodAccess:
    """What the chart needs so its Pod gets the image and reaches the API server and S3."""

    image: str
    s3_endpoint: str
    # A custom check's image, by digest: one named by tag is pulled every time.
    check_image: str
    values: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def pod_access(
    node: Node | None, pod_runtime: PodRuntime | None, s3: S3Server, tmp_path: Path
) -> Iterator[PodAccess]:
    """The image on the node(s), S3 where Pods reach it, and API server overrides if needed."""
    if node is not None:
        # The session's image and S3 forwarder, as validation Pods use them.
        assert pod_runtime is not None
        env, host_aliases = node.in_cluster_api_overrides()
        values = {
            "apiServer": {
                "host": env["KUBERNETES_SERVICE_HOST"],
                "port": env["KUBERNETES_SERVICE_PORT"],
            },
            "hostAliases": host_aliases,
        }
        yield PodAccess(pod_runtime.image, pod_runtime.s3_endpoint, pod_runtime.busybox, values)
        return
    image = os.environ.get("MODELREGISTRY_TEST_OPERATOR_IMAGE")
    if not image:
        pytest.skip(
            "needs the operator image on the cluster's nodes: build it (make image), load "
            "it (kind load image-archive ARCHIVE) and name it in "
            "MODELREGISTRY_TEST_OPERATOR_IMAGE"
        )
    host = os.environ.get("MODELREGISTRY_TEST_POD_HOST_ADDRESS")
    if not host:
        pytest.skip(
            "needs an address of this machine that the cluster's Pods reach, for the S3 "
            "server: set MODELREGISTRY_TEST_POD_HOST_ADDRESS (for kind: its Docker "
            "network's gateway, `docker network inspect kind`)"
        )
    s3_port = urlsplit(s3.endpoint_url).port
    assert s3_port is not None
    with Forwarder(host, s3_port, tmp_path / "forward-s3.log", name="forward-s3") as forwarder:
        # Named by digest there (registry/operator@sha256:...), it is not pulled again.
        yield PodAccess(image, f"http://{forwarder.address}", image)


def restricted_namespace(cluster: Cluster) -> contextlib.AbstractContextManager[str]:
    """A namespace of its own, where Pod Security Admission enforces the restricted profile.

    Deleted afterwards even when it holds versions in Production (`temporary_namespace`).
    """

    @contextlib.contextmanager
    def made() -> Iterator[str]:
        with temporary_namespace(cluster, NAMESPACE_PREFIX) as name:
            kubernetes.client.CoreV1Api(cluster.api_client).patch_namespace(
                name,
                {
                    "metadata": {
                        "labels": {
                            "pod-security.kubernetes.io/enforce": "restricted",
                            "pod-security.kubernetes.io/enforce-version": "latest",
                        }
                    }
                },
            )
            yield name

    return made()


@pytest.fixture
def install_namespace(cluster: Cluster) -> Iterator[str]:
    with restricted_namespace(cluster) as name:
        yield name


@contextlib.contextmanager
def policies_exempting(cluster: Cluster, operator: str) -> Iterator[None]:
    """The admission policies exempting the session's host operator and `operator`, then
    the host operator alone again.

    The API server applies a replaced policy a moment later: a status write in that
    moment may still be denied by it, and is retried (see `refusals`).
    """
    host = user_of(str(cluster.operator_kubeconfig or cluster.kubeconfig))
    install_admission(cluster.api_client, host, operator)
    try:
        yield
    finally:
        install_admission(cluster.api_client, host)


def refusals(log: str) -> list[str]:
    """The lines of an operator's log where RBAC refused it something: the API server's
    `... is forbidden: User "..." cannot ...`, or Kopf's `Not enough permissions`."""
    return [
        line
        for line in log.splitlines()
        if re.search(r'forbidden: User "[^"]*" cannot', line) or "Not enough permissions" in line
    ]


def chart_values(
    access: PodAccess, watched: list[str], s3: S3Server, secret: str, **more: Any
) -> dict[str, Any]:
    repository, _, tag = access.image.rpartition(":")
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "replicas": REPLICAS,
        "s3": {"endpoint": access.s3_endpoint, "region": s3.region, "credentialsSecret": secret},
        "watchNamespaces": watched,
        "logging": {"verbose": True},
        "verification": {"checkIntervalSeconds": 2},
        "retry": {"baseDelaySeconds": 0.5, "maxDelaySeconds": 2},
        # The session's policies are replaced for the test's duration instead.
        "admission": {"install": False},
        **access.values,
        **more,
    }


class Release:
    """One `helm install` of the chart, and what it runs."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        # A ClusterRole and its binding are named after the release: a name of its own.
        self.name = f"mr-{uuid.uuid4().hex[:6]}"
        self.apps = kubernetes.client.AppsV1Api(cluster.api_client)
        self.core = kubernetes.client.CoreV1Api(cluster.api_client)
        self.selector = f"app.kubernetes.io/instance={self.name}"

    @property
    def operator(self) -> str:
        """The user name the operator's Pods authenticate as."""
        return f"system:serviceaccount:{self.namespace}:{self.name}-operator"

    def helm(self, *args: str) -> str:
        where = ("--namespace", self.namespace, "--kubeconfig", str(self.cluster.kubeconfig))
        try:
            return helm(*args, *where).stdout
        except subprocess.CalledProcessError as error:
            raise AssertionError(f"helm {args[0]} failed: {error.stderr}") from error

    def install(self, values: dict[str, Any], directory: Path, *flags: str) -> None:
        values_file = directory / f"{self.name}-values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        self.helm("install", self.name, str(CHART), "--values", str(values_file), *flags)

    def upgrade(self, *flags: str) -> None:
        self.helm("upgrade", self.name, str(CHART), "--reuse-values", *flags)

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--wait", "--timeout", "60s")

    @contextlib.contextmanager
    def installed(self, values: dict[str, Any], directory: Path, *flags: str) -> Iterator[None]:
        """Installed and Available; uninstalled (its Pods gone) when the block ends, however."""
        self.install(values, directory, *flags)
        try:
            wait_until(
                self.available,
                timeout=180,
                interval=0.2,
                what="the operator's Deployment to become Available",
                on_timeout=self.describe,
            )
            yield
        finally:
            with contextlib.suppress(AssertionError):
                self.uninstall()
            # The garbage collector removes the ReplicaSet and its Pods; the kubelet stops them.
            wait_until(
                lambda: self.pods() == [],
                timeout=60,
                what="the operator's Pods to be gone",
                on_timeout=self.describe,
            )

    def available(self) -> bool:
        status = self.apps.read_namespaced_deployment_status(
            f"{self.name}-operator", self.namespace
        ).status
        if status is None:
            return False
        conditions = status.conditions or []
        available = any(c.type == "Available" and c.status == "True" for c in conditions)
        return available and (status.ready_replicas or 0) == REPLICAS

    def pods(self) -> list[Any]:
        items: list[Any] = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector
        ).items
        return items

    def leader(self) -> str | None:
        """The Pod holding the leader-election Lease, once there is one."""
        leases = kubernetes.client.CoordinationV1Api(self.cluster.api_client)
        try:
            lease = leases.read_namespaced_lease(f"{self.name}-operator", self.namespace)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise
        holder = lease.spec.holder_identity if lease.spec is not None else None
        return str(holder) if holder else None

    def pod_logs(self) -> str:
        return "\n".join(
            self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace)
            for pod in self.pods()
            if pod.status.phase in ("Running", "Succeeded", "Failed")
        )

    def can(self, *request: str) -> bool:
        """Whether the operator's identity may do `request` (`kubectl auth can-i` words)."""
        answer = self.cluster.kubectl_run(
            "auth", "can-i", f"--as={self.operator}", *request, check=False
        )
        return answer.stdout.strip() == "yes"

    def describe(self) -> str:
        """Pods, their states and the namespace's Events: why it did not come up."""
        lines = []
        for pod in self.pods():
            statuses = pod.status.container_statuses or []
            lines.append(
                f"pod {pod.metadata.name}: {pod.status.phase} "
                + "; ".join(f"{s.name} ready={s.ready} state={s.state}" for s in statuses)
            )
        events = self.core.list_namespaced_event(self.namespace).items
        lines += [
            f"event {e.involved_object.kind}/{e.involved_object.name}: {e.reason}: {e.message}"
            for e in events
        ]
        try:
            lines.append("logs:\n" + self.pod_logs()[-6000:])
        except kubernetes.client.ApiException as error:
            lines.append(f"no logs: {error.reason}")
        return "\n".join(lines)


def assert_the_pods_run_as_the_chart_says(release: Release, access: PodAccess) -> str:
    """Every replica Running and ready under the chart's ServiceAccount; the one working."""
    pods = release.pods()
    assert len(pods) == REPLICAS
    for pod in pods:
        assert pod.status.phase == "Running"
        assert pod.spec.service_account_name == f"{release.name}-operator"
        [container] = pod.status.container_statuses
        assert container.ready and container.image.endswith(access.image.rpartition("/")[2])
    names = {pod.metadata.name for pod in pods}
    leader: str = wait_until(
        lambda: (holder := release.leader()) in names and holder,
        timeout=30,
        what="one of the Pods to hold the Lease",
        on_timeout=release.describe,
    )
    return leader


def assert_the_leader_did_it(release: Release, objects: Objects, version: str, leader: str) -> None:
    """Its Events name the leader's Pod as their reporting instance (the operator's host
    name), and its log shows the watches running and no refusal of the chart's RBAC."""
    events = release.core.list_namespaced_event(
        objects.namespace, field_selector=f"involvedObject.name={version}"
    ).items
    assert events, "the operator wrote no Event for the version"
    assert {e.reporting_instance for e in events} == {leader}
    logs = release.pod_logs()
    assert re.search(r"Listed \d+ Models and \d+ ModelVersions; watching them", logs), logs[-4000:]
    assert refusals(logs) == [], logs[-4000:]


def validated_version(
    objects: Objects, name: str, model: str, uri: str, image: str, release: Release
) -> None:
    """A version with a check of its own: the in-cluster operator runs its validation Pod
    (fetch of the verified bytes, then the check, in the chart's image) with the chart's RBAC."""
    objects.version(
        name,
        model,
        uri,
        artifact={"storage": {"secretRef": {"name": "s3-credentials"}}},
        validation={
            "checks": [
                {
                    "name": "size",
                    "image": image,
                    "command": ["sh", "-c", 'test -s "$MODELREGISTRY_ARTIFACT"'],
                }
            ]
        },
    )
    objects.wait_condition(
        name, "Ready", "True", "Succeeded", timeout=180, on_timeout=release.describe
    )
    validated = objects.condition(name, "Validated")
    assert validated is not None and validated["reason"] == "ChecksPassed", validated
    [check] = objects.get("modelversions", name)["status"]["validation"]["checks"]
    assert (check["name"], check["result"]) == ("size", "Passed")


def stage_of(objects: Objects, name: str) -> str | None:
    status = objects.get("modelversions", name).get("status") or {}
    stage = status.get("stage")
    return stage if isinstance(stage, str) else None


def test_the_chart_runs_the_operator_in_cluster_through_the_lifecycle(
    cluster: Cluster,
    install_namespace: str,
    pod_access: PodAccess,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = install_namespace
    objects = Objects(cluster.api_client, namespace)
    objects.s3_secret("s3-credentials", s3.access_key, s3.secret_key)
    release = Release(cluster, namespace)
    values = chart_values(pod_access, [namespace], s3, "s3-credentials")

    began = time.monotonic()
    with policies_exempting(cluster, release.operator), release.installed(values, tmp_path):
        available_after = time.monotonic() - began
        leader = assert_the_pods_run_as_the_chart_says(release, pod_access)

        # Registered: verified against S3 by the operator in its Pod.
        data = b"weights served by the in-cluster operator"
        put = s3_client.put_object(Bucket=bucket, Key="incluster/model.bin", Body=data)
        objects.model(
            "incluster", owner="team-a", policy={"approval": {"requiredFor": ["Production"]}}
        )
        created = time.monotonic()
        objects.version("incluster-1", "incluster", f"s3://{bucket}/incluster/model.bin")
        ready = objects.wait_condition(
            "incluster-1", "Ready", "True", "Succeeded", timeout=120, on_timeout=release.describe
        )
        ready_after = time.monotonic() - created
        status = objects.get("modelversions", "incluster-1")["status"]
        assert status["artifact"]["size"] == len(data)
        assert status["artifact"]["versionId"] == put["VersionId"]
        assert ready["observedGeneration"] == 1
        assert_the_leader_did_it(release, objects, "incluster-1", leader)

        # Production asked: the Model's policy wants an approval first.
        objects.patch_spec("incluster-1", {"stage": "Production"})
        waiting = objects.wait_condition(
            "incluster-1", "StageGranted", "False", "ApprovalRequired", on_timeout=release.describe
        )
        assert "modelregistry approve incluster-1 --stage Production" in waiting["message"]

        # Approved by a person holding the approver role, as that person: the admission
        # policy admits the entry, and the in-cluster operator counts it.
        bind_cluster_role(cluster.api_client, namespace, "modelregistry-approver", APPROVER)
        approver = client.Session(impersonating(cluster.api_client, APPROVER), namespace)
        approved = time.monotonic()
        entry = client.approve(approver, "incluster-1", "Production", "holdout AUC 0.91")
        assert entry["user"] == APPROVER
        wait_until(
            lambda: stage_of(objects, "incluster-1") == "Production",
            what="Production granted by the in-cluster operator",
            on_timeout=release.describe,
        )
        granted_after = time.monotonic() - approved
        status = objects.get("modelversions", "incluster-1")["status"]
        assert status["history"][-1]["actor"] == APPROVER
        assert status["deletionProtection"] == {"reason": "Production"}
        granted = objects.present_condition("incluster-1", "StageGranted")
        assert (granted["status"], granted["reason"]) == ("True", "Granted")

        validating = time.monotonic()
        validated_version(
            objects,
            "incluster-2",
            "incluster",
            f"s3://{bucket}/incluster/model.bin",
            pod_access.check_image,
            release,
        )
        validated_after = time.monotonic() - validating
        assert refusals(release.pod_logs()) == []

        # An upgrade rolls the Pods one by one: a new Pod stands by (ready: it has listed
        # everything) before an old one stops, and whichever new Pod takes the Lease works.
        old = {pod.metadata.name for pod in release.pods()}
        upgrading = time.monotonic()
        release.upgrade("--set-string", "podAnnotations.example\\.com/rolled=1")
        wait_until(
            lambda: release.available() and not old & {p.metadata.name for p in release.pods()},
            timeout=120,
            what="the old Pods to be replaced",
            on_timeout=release.describe,
        )
        leader = assert_the_pods_run_as_the_chart_says(release, pod_access)
        rolled_after = time.monotonic() - upgrading
        objects.version("incluster-3", "incluster", f"s3://{bucket}/incluster/model.bin")
        objects.wait_condition(
            "incluster-3", "Ready", "True", "Succeeded", timeout=120, on_timeout=release.describe
        )
        assert_the_leader_did_it(release, objects, "incluster-3", leader)
        assert stage_of(objects, "incluster-1") == "Production"
        uninstalling = time.monotonic()
    gone_after = time.monotonic() - uninstalling
    with capsys.disabled():
        print(
            f"\nhelm install -> Deployment Available {available_after:.1f}s; a version "
            f"created -> Ready {ready_after:.1f}s; approved -> Production {granted_after:.1f}s; "
            f"a version with a check in a validation Pod: created -> Ready {validated_after:.1f}s; "
            f"helm upgrade -> new Pods, one leading {rolled_after:.1f}s; "
            f"helm uninstall -> Pods gone {gone_after:.1f}s"
        )


def test_a_namespaced_install_works_with_roles_in_the_watched_namespace_alone(
    cluster: Cluster,
    install_namespace: str,
    pod_access: PodAccess,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    Objects(cluster.api_client, install_namespace).s3_secret(
        "s3-credentials", s3.access_key, s3.secret_key
    )
    release = Release(cluster, install_namespace)
    with restricted_namespace(cluster) as watched:
        objects = Objects(cluster.api_client, watched)
        objects.s3_secret("s3-credentials", s3.access_key, s3.secret_key)
        values = chart_values(
            pod_access, [watched], s3, "s3-credentials", rbac={"scope": "namespaced"}
        )
        # What a namespace admin runs: the CRDs and the policies are a cluster admin's.
        with (
            policies_exempting(cluster, release.operator),
            release.installed(values, tmp_path, "--skip-crds"),
        ):
            # Nothing cluster-wide: no binding anywhere names the operator but the Roles.
            rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
            bound = [
                b
                for b in rbac.list_cluster_role_binding().items
                if any(s.name == f"{release.name}-operator" for s in b.subjects or [])
            ]
            assert bound == []
            assert not release.can("list", "namespaces")
            assert not release.can("list", "customresourcedefinitions.apiextensions.k8s.io")
            assert not release.can(
                "get", "validatingadmissionpolicies.admissionregistration.k8s.io"
            )
            assert not release.can("list", "modelversions.modelregistry.io", "-n", "default")
            assert release.can("list", "modelversions.modelregistry.io", "-n", watched)
            assert release.can("create", "pods", "-n", watched)
            leader = assert_the_pods_run_as_the_chart_says(release, pod_access)

            s3_client.put_object(Bucket=bucket, Key="team/model.bin", Body=b"a team's weights")
            objects.model("team")
            objects.version("team-1", "team", f"s3://{bucket}/team/model.bin")
            objects.wait_condition(
                "team-1", "Ready", "True", "Succeeded", timeout=120, on_timeout=release.describe
            )
            assert_the_leader_did_it(release, objects, "team-1", leader)
            validated_version(
                objects,
                "team-2",
                "team",
                f"s3://{bucket}/team/model.bin",
                pod_access.check_image,
                release,
            )
            assert refusals(release.pod_logs()) == []
