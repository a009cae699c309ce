"""The Helm chart installed for real: the operator runs in-cluster as the chart's Deployment.

The project's image, built from the Dockerfile (`ensure_image()`) and imported
into the local node by the session, and `helm install` runs the chart into a namespace of its
own where Pod Security Admission enforces the restricted profile. The operator
in its Pod then verifies a ModelVersion against the S3 server on the host,
with the chart's ServiceAccount and RBAC and nothing else.

How Pods reach the host's servers here (the local node has no kube-proxy and
no cluster DNS, and Pods cannot reach the host's 127.0.0.1): the node
forwards its IP's port 443 to the API server, and the chart's `apiServer` and
`hostAliases` values point the operator there (`Node.in_cluster_api_overrides`);
`s3.endpoint` is the session's forwarder from a node IP port to versitygw
(fixture `pod_runtime`, which validation Pods use too).

Against a cluster in KUBECONFIG (MODELREGISTRY_TEST_USE_KUBECONFIG=1, e.g.
`make e2e-kind`) the Service and DNS are real and the chart needs none of
that; the image must be on the cluster's nodes already
(MODELREGISTRY_TEST_OPERATOR_IMAGE, e.g. after `kind load`) and
MODELREGISTRY_TEST_POD_HOST_ADDRESS names an address of this machine the
cluster's Pods reach (for kind, its Docker network's gateway), where the test
forwards to versitygw. Without them the test is skipped, saying so.

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

from modelregistry.localenv import Node, S3Server
from modelregistry.localenv.forward import Forwarder
from tests.integration.conftest import Cluster, PodRuntime
from tests.integration.support import CHART, Objects, helm, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

# conftest.py keeps the session's host operator out of these namespaces.
NAMESPACE_PREFIX = "mr-incluster-"


@dataclass(frozen=True)
class PodAccess:
    """What the chart needs so its Pod gets the image and reaches the API server and S3."""

    image: str
    s3_endpoint: str
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
        yield PodAccess(pod_runtime.image, pod_runtime.s3_endpoint, values)
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
        yield PodAccess(image, f"http://{forwarder.address}")


@pytest.fixture
def install_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of its own, where Pod Security Admission enforces the restricted profile."""
    name = f"{NAMESPACE_PREFIX}{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    body: Any = {
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        }
    }
    core.create_namespace(body)
    yield name
    core.delete_namespace(name)


def chart_values(access: PodAccess, namespace: str, s3: S3Server, secret: str) -> dict[str, Any]:
    repository, _, tag = access.image.rpartition(":")
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "s3": {"endpoint": access.s3_endpoint, "region": s3.region, "credentialsSecret": secret},
        "watchNamespaces": [namespace],
        "verbose": True,
        "verification": {"checkIntervalSeconds": 2},
        "extraEnv": [
            {"name": "MODELREGISTRY_RETRY_BASE_DELAY", "value": "0.5"},
            {"name": "MODELREGISTRY_RETRY_MAX_DELAY", "value": "2"},
        ],
        **access.values,
    }


class Release:
    """One `helm install` of the chart, and what it runs."""

    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.apps = kubernetes.client.AppsV1Api(cluster.api_client)
        self.core = kubernetes.client.CoreV1Api(cluster.api_client)
        self.selector = f"app.kubernetes.io/instance={name}"

    def helm(self, *args: str) -> str:
        return helm(
            *args, "--namespace", self.namespace, "--kubeconfig", str(self.cluster.kubeconfig)
        ).stdout

    def install(self, values_file: Path) -> None:
        self.helm("install", self.name, str(CHART), "--values", str(values_file))

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--wait", "--timeout", "60s")

    def deployment_available(self) -> bool:
        status = self.apps.read_namespaced_deployment_status(
            f"{self.name}-operator", self.namespace
        ).status
        if status is None:
            return False
        conditions = status.conditions or []
        available = any(c.type == "Available" and c.status == "True" for c in conditions)
        return available and (status.ready_replicas or 0) == 1

    def pods(self) -> list[Any]:
        items: list[Any] = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector
        ).items
        return items

    def pod_logs(self) -> str:
        return "\n".join(
            self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace)
            for pod in self.pods()
            if pod.status.phase in ("Running", "Succeeded", "Failed")
        )

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


def test_chart_runs_the_operator_in_cluster_and_it_verifies_a_version(
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
    values_file = tmp_path / "values.yaml"
    values_file.write_text(
        yaml.safe_dump(chart_values(pod_access, namespace, s3, "s3-credentials"))
    )
    # Its ClusterRole and ClusterRoleBinding are cluster-wide: a name of its own.
    release = Release(cluster, namespace, f"mr-{uuid.uuid4().hex[:6]}")

    began = time.monotonic()
    try:
        release.install(values_file)
        wait_until(
            release.deployment_available,
            timeout=180,
            interval=0.2,
            what="the operator's Deployment to become Available",
            on_timeout=release.describe,
        )
        available_after = time.monotonic() - began
        [pod] = release.pods()
        assert pod.status.phase == "Running"
        assert pod.spec.service_account_name == f"{release.name}-operator"
        [container] = pod.status.container_statuses
        assert container.ready and container.image.endswith(pod_access.image.rpartition("/")[2])

        data = b"weights served by the in-cluster operator"
        put = s3_client.put_object(Bucket=bucket, Key="incluster/model.bin", Body=data)
        objects.model("incluster", owner="team-a")
        created = time.monotonic()
        objects.version("incluster-1", "incluster", f"s3://{bucket}/incluster/model.bin")
        ready = objects.wait_condition(
            "incluster-1", "Ready", "True", "Succeeded", timeout=120, on_timeout=release.describe
        )
        ready_after = time.monotonic() - began
        status = objects.get("modelversions", "incluster-1")["status"]
        assert status["artifact"]["size"] == len(data)
        assert status["artifact"]["versionId"] == put["VersionId"]
        assert ready["observedGeneration"] == 1
        # The operator in the Pod did it: its Events name the Pod as their
        # reporting instance (the operator's host name), and its log shows its
        # watches running and no refusal of the chart's RBAC.
        events = release.core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=incluster-1"
        ).items
        assert events, "the operator wrote no Event for the version"
        assert {e.reporting_instance for e in events} == {pod.metadata.name}
        logs = release.pod_logs()
        assert re.search(r"Listed \d+ Models and \d+ ModelVersions; watching them", logs), logs[
            -4000:
        ]
        assert "forbidden" not in logs.lower(), logs[-4000:]

        # A version with a check: the in-cluster operator runs its validation
        # Pod (fetch of the verified bytes, then the check, in the image the
        # chart names) in this restricted namespace, with the chart's RBAC.
        validating = time.monotonic()
        objects.version(
            "incluster-2",
            "incluster",
            f"s3://{bucket}/incluster/model.bin",
            artifact={"storage": {"secretRef": {"name": "s3-credentials"}}},
            validation={
                "checks": [
                    {
                        "name": "size",
                        "image": pod_access.image,
                        "command": ["sh", "-c", 'test -s "$MODELREGISTRY_ARTIFACT"'],
                    }
                ]
            },
        )
        objects.wait_condition(
            "incluster-2", "Ready", "True", "Succeeded", timeout=180, on_timeout=release.describe
        )
        validated_after = time.monotonic() - validating
        validated = objects.condition("incluster-2", "Validated")
        assert validated is not None and validated["reason"] == "ChecksPassed", validated
        [check] = objects.get("modelversions", "incluster-2")["status"]["validation"]["checks"]
        assert (check["name"], check["result"]) == ("size", "Passed")
    except BaseException:
        with contextlib.suppress(subprocess.CalledProcessError):
            release.uninstall()
        raise
    uninstalling = time.monotonic()
    release.uninstall()
    # The garbage collector removes the ReplicaSet and its Pod; the kubelet stops it.
    wait_until(
        lambda: release.pods() == [],
        timeout=60,
        what="the operator's Pod to be gone",
        on_timeout=release.describe,
    )
    gone_after = time.monotonic() - uninstalling
    with capsys.disabled():
        print(
            f"\nhelm install -> Deployment Available {available_after:.1f}s, "
            f"-> first ModelVersion Ready {ready_after:.1f}s "
            f"({ready_after - (created - began):.1f}s after it was created); "
            f"a version with a check in a validation Pod: created -> Ready {validated_after:.1f}s; "
            f"helm uninstall -> Pod gone {gone_after:.1f}s"
        )
