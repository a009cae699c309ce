"""Pods on a real node: the locked-down validation Pods of DESIGN.md rule 7.

Each test works in its own namespace labelled
`pod-security.kubernetes.io/enforce: restricted`, so the API server's Pod
Security Admission judges what "locked down" means, as it will for the
operator's validation Pods.
"""

from __future__ import annotations

import http.server
import ipaddress
import os
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kubernetes
import pytest

from modelregistry.localenv import ControlPlane, LocalEnvError, Node
from modelregistry.localenv.images import BUSYBOX_IMAGE, busybox_archive
from tests.integration.conftest import Cluster

pytestmark = pytest.mark.integration

Body = dict[str, Any]
TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class PodImage:
    name: str
    pull_policy: str


@pytest.fixture(scope="module")
def image(node: Node | None, tmp_path_factory: pytest.TempPathFactory) -> PodImage:
    """A static busybox in an empty image, imported into the local node.

    Against a cluster in KUBECONFIG, MODELREGISTRY_TEST_BUSYBOX_IMAGE names a
    busybox image its nodes can get.
    """
    if node is None:
        name = os.environ.get("MODELREGISTRY_TEST_BUSYBOX_IMAGE", "docker.io/library/busybox:1.36")
        return PodImage(name, "IfNotPresent")
    archive = busybox_archive(tmp_path_factory.mktemp("images") / "busybox.oci.tar")
    assert node.import_image(archive) == [BUSYBOX_IMAGE]
    return PodImage(BUSYBOX_IMAGE, "Never")


@pytest.fixture
def core(cluster: Cluster) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(cluster.api_client)


@pytest.fixture
def restricted_namespace(
    core: kubernetes.client.CoreV1Api, node: Node | None, image: PodImage
) -> Iterator[str]:
    """A namespace where Pod Security Admission enforces the restricted profile."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(
        cast(
            Any,
            {
                "metadata": {
                    "name": name,
                    "labels": {
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                    },
                }
            },
        )
    )
    # Pods are refused until the namespace's default ServiceAccount exists.
    wait_for(lambda: _exists(lambda: core.read_namespaced_service_account("default", name)))
    yield name
    core.delete_namespace(name)


def restricted_pod(name: str, image: PodImage, script: str, **spec: Any) -> Body:
    """A Pod locked down the way validation Pods are (DESIGN.md rule 7)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "check",
                    "image": image.name,
                    "imagePullPolicy": image.pull_policy,
                    "command": ["sh", "-c", script],
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
            **spec,
        },
    }


def wait_for(check: Any, timeout: float = 90.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s")
        time.sleep(interval)


def _exists(read: Any) -> bool:
    try:
        read()
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def run_to_end(core: kubernetes.client.CoreV1Api, namespace: str, pod: Body) -> Body:
    """Create the Pod and return it once it has Succeeded or Failed."""
    core.create_namespaced_pod(namespace, cast(Any, pod))
    name = pod["metadata"]["name"]

    def finished() -> Body | None:
        current: Body = core.read_namespaced_pod(name, namespace).to_dict()
        return current if current["status"]["phase"] in TERMINAL_PHASES else None

    result: Body = wait_for(finished)
    return result


def terminated(pod: Body) -> Body:
    [status] = pod["status"]["container_statuses"]
    state: Body = status["state"]["terminated"]
    assert state is not None, status
    return state


def is_ready(node: kubernetes.client.V1Node) -> bool:
    assert node.status is not None and node.status.conditions is not None
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def test_node_is_ready(
    cluster: Cluster, node: Node | None, capsys: pytest.CaptureFixture[str]
) -> None:
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    nodes = core.list_node().items
    ready = [n for n in nodes if is_ready(n)]
    assert ready
    if node is None:
        return
    [local] = nodes
    assert local.metadata is not None and local.spec is not None
    assert local.status is not None and local.status.addresses is not None
    assert local.status.node_info is not None
    assert local.metadata.name == node.node_name
    assert [(a.type, a.address) for a in local.status.addresses] == [
        ("InternalIP", node.node_ip),
        ("Hostname", node.node_name),
    ]
    assert local.status.node_info.kubelet_version == "v1.35.4"
    assert local.status.node_info.container_runtime_version.startswith("containerd://1.")
    assert not local.spec.taints
    with capsys.disabled():
        print(f"\nnode: Ready {node.ready_after:.1f}s after start()")


def test_restricted_pod_is_admitted_runs_and_exits_zero(
    core: kubernetes.client.CoreV1Api,
    restricted_namespace: str,
    image: PodImage,
    capsys: pytest.CaptureFixture[str],
) -> None:
    durations = []
    for attempt in range(3):
        name = f"trivial-{attempt}"
        began = time.monotonic()
        pod = run_to_end(
            core,
            restricted_namespace,
            restricted_pod(name, image, 'echo "uid=$(id -u) gid=$(id -g)"'),
        )
        durations.append(time.monotonic() - began)
        assert pod["status"]["phase"] == "Succeeded"
        state = terminated(pod)
        assert (state["exit_code"], state["reason"]) == (0, "Completed")
        # Logs travel API server -> kubelet: the kubelet client certificate and
        # the kubelet's webhook authorization work.
        assert core.read_namespaced_pod_log(name, restricted_namespace) == "uid=1000 gid=1000\n"
    with capsys.disabled():
        print(
            f"\nPod create -> Succeeded: median {statistics.median(durations):.2f}s "
            f"of {', '.join(f'{d:.2f}' for d in durations)}"
        )


def test_pod_violating_the_restricted_profile_is_refused_at_admission(
    core: kubernetes.client.CoreV1Api, restricted_namespace: str, image: PodImage
) -> None:
    pod = restricted_pod("escalates", image, "true")
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    with pytest.raises(kubernetes.client.ApiException) as refused:
        core.create_namespaced_pod(restricted_namespace, cast(Any, pod))
    assert refused.value.status == 403
    body = refused.value.body if isinstance(refused.value.body, str) else ""
    assert (
        'pods \\"escalates\\" is forbidden: violates PodSecurity \\"restricted:latest\\": '
        'allowPrivilegeEscalation != false (container \\"check\\" must set '
        "securityContext.allowPrivilegeEscalation=false)"
    ) in body
    assert core.list_namespaced_pod(restricted_namespace).items == []


def test_pod_writing_its_read_only_root_filesystem_fails(
    core: kubernetes.client.CoreV1Api, restricted_namespace: str, image: PodImage
) -> None:
    pod = run_to_end(core, restricted_namespace, restricted_pod("writes", image, "touch /x"))
    assert pod["status"]["phase"] == "Failed"
    state = terminated(pod)
    assert (state["exit_code"], state["reason"]) == (1, "Error")
    # FallbackToLogsOnError: the failing command's output is the message.
    assert state["message"] == "touch: /x: Read-only file system\n"


def test_active_deadline_kills_a_sleeping_pod(
    core: kubernetes.client.CoreV1Api, restricted_namespace: str, image: PodImage
) -> None:
    pod = run_to_end(
        core,
        restricted_namespace,
        restricted_pod("sleeps", image, "sleep 600", activeDeadlineSeconds=2),
    )
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert (
        pod["status"]["message"] == "Pod was active on the node longer than the specified deadline"
    )


def test_termination_message_reaches_the_container_status(
    core: kubernetes.client.CoreV1Api, restricted_namespace: str, image: PodImage
) -> None:
    report = '{"check":"accuracy","value":0.93,"passed":false}'
    script = f"printf '%s' '{report}' > /dev/termination-log; exit 3"
    pod = run_to_end(core, restricted_namespace, restricted_pod("reports", image, script))
    assert pod["status"]["phase"] == "Failed"
    state = terminated(pod)
    assert (state["exit_code"], state["reason"], state["message"]) == (3, "Error", report)


@pytest.fixture
def local_plane(cluster: Cluster, node: Node | None) -> ControlPlane:
    if cluster.plane is None or node is None:
        pytest.skip("needs the local control plane and node")
    return cluster.plane


def test_start_with_the_kubelet_port_taken_fails_at_once_and_changes_nothing(
    local_plane: ControlPlane, tmp_path: Path
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        other = Node(local_plane, tmp_path / "other", kubelet_port=port, bridge="mr-other0")
        began = time.monotonic()
        with pytest.raises(LocalEnvError) as error:
            other.start()
    assert str(error.value).startswith(
        f"kubelet port {port} is in use (Address already in use): stop what listens there"
    )
    assert time.monotonic() - began < 5
    assert not Path("/sys/class/net/mr-other0").exists()
    assert not (tmp_path / "other" / "containerd").exists()


def test_a_second_node_in_the_same_process_is_refused_at_once(
    local_plane: ControlPlane, tmp_path: Path
) -> None:
    other = Node(local_plane, tmp_path / "other", bridge="mr-other0")
    with pytest.raises(LocalEnvError, match="a local node is already running in this process"):
        other.start()
    assert not Path("/sys/class/net/mr-other0").exists()


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the node\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_pods_reach_the_node_ip_and_have_no_route_out(
    core: kubernetes.client.CoreV1Api,
    restricted_namespace: str,
    image: PodImage,
    node: Node | None,
) -> None:
    if node is None:
        pytest.skip("the addresses are the local node's")
    # What Pods must reach (S3, the API server) listens on the node IP.
    server = http.server.ThreadingHTTPServer((node.node_ip, 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        # A static busybox cannot resolve service names (wget looks up "http"
        # through NSS and crashes), so nc with numeric ports. 203.0.113.1
        # (TEST-NET-3): with no route, connect fails before any packet is sent.
        script = (
            "busybox ip route; "
            f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 10 {node.node_ip} {port} "
            "| busybox tail -n 1; "
            "busybox nc -w 2 203.0.113.1 80 </dev/null 2>&1 || true"
        )
        pod = run_to_end(core, restricted_namespace, restricted_pod("net", image, script))
    finally:
        server.shutdown()
        server.server_close()
    assert pod["status"]["phase"] == "Succeeded"
    pod_ip = pod["status"]["pod_ip"]
    assert ipaddress.ip_address(pod_ip) in ipaddress.ip_network(node.subnet)
    logs = core.read_namespaced_pod_log("net", restricted_namespace).splitlines()
    assert logs == [
        f"{node.subnet} dev eth0 scope link  src {pod_ip} ",
        "hello from the node",
        "nc: can't connect to remote host (203.0.113.1): Network is unreachable",
    ]
