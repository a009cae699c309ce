"""A Kubernetes control plane on loopback: etcd, kube-apiserver, controller-manager, scheduler.

Started the way controller-runtime's envtest starts one, plus a
controller-manager running only the controllers the operator relies on:
the deployment and replicaset controllers (the chart's Deployment), the
garbage collector (ownerReferences), the namespace controller (namespace
deletion finishes), the service-account controller (every namespace gets its
`default` ServiceAccount), the root-CA publisher (the `kube-root-ca.crt`
ConfigMap that Pods' service-account volumes project) and the node lifecycle
controller (a Ready node loses its not-ready taint); and kube-scheduler.
There is no kubelet here: without a `Node` service Pods stay Pending
(Unschedulable). Authorization is Node,RBAC with NodeRestriction, as on a real
cluster, so a kubelet joins with its own `system:node:<name>` identity.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import shutil
import ssl
import time
from pathlib import Path
from typing import Final

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.kubeconfig import write_kubeconfig
from modelregistry.localenv.pki import (
    ADMIN_USER,
    CONTROLLER_MANAGER_USER,
    KUBELET_CLIENT_USER,
    OPERATOR_USER,
    SCHEDULER_USER,
    PKIFiles,
    generate_pki,
)
from modelregistry.localenv.process import ManagedProcess, free_port, wait_until
from modelregistry.localenv.service import LocalService
from modelregistry.localenv.tools import find_tool

log = logging.getLogger(__name__)

SERVICE_CLUSTER_IP_RANGE: Final = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER: Final = "https://kubernetes.default.svc.cluster.local"
CONTROLLERS: Final = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "root-ca-certificate-publisher-controller",
    # Removes the not-ready taint the API server puts on every new Node
    # (admission plugin TaintNodesByCondition) once its kubelet reports Ready.
    "node-lifecycle-controller",
    # A Deployment (the chart's operator) gets its ReplicaSet, and that its Pod.
    "deployment-controller",
    "replicaset-controller",
    # Fills the user-facing ClusterRoles (admin, edit, view) from their aggregated
    # parts, so `edit` in a namespace grants what it does on any cluster.
    "clusterrole-aggregation-controller",
)
_DEFAULT_SERVICE_ACCOUNT: Final = "/api/v1/namespaces/default/serviceaccounts/default"
# Lets the API server's kubelet client reach the kubelet API (logs, exec).
_KUBELET_CLIENT_BINDING: Final = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "modelregistry-local:kube-apiserver-kubelet-client"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "system:kubelet-api-admin",
    },
    "subjects": [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": KUBELET_CLIENT_USER}
    ],
}


class ControlPlane(LocalService):
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler as child processes.

    `workdir` holds the PKI, the etcd data, one log file per process and the
    admin kubeconfig. Without one, a temporary directory is used and `stop()`
    removes it; a given directory is kept (with its logs) after `stop()`. Each
    `start()` begins with an empty etcd and fresh certificates.
    """

    name = "control plane"

    def __init__(self, workdir: Path | None = None, *, start_timeout: float = 120.0) -> None:
        super().__init__(workdir, prefix="modelregistry-controlplane-", start_timeout=start_timeout)
        self._processes: list[ManagedProcess] = []
        self._pki: PKIFiles | None = None
        self._api_port: int | None = None

    @property
    def kubeconfig(self) -> Path:
        """The admin (system:masters) kubeconfig."""
        return self.workdir / "kubeconfig"

    @property
    def operator_kubeconfig(self) -> Path:
        """The operator's own kubeconfig (user OPERATOR_USER, system:masters)."""
        return self.workdir / "operator.kubeconfig"

    @property
    def server(self) -> str:
        """The API server's https URL."""
        if self._api_port is None:
            raise LocalEnvError("control plane not started")
        return f"https://127.0.0.1:{self._api_port}"

    @property
    def kubectl(self) -> Path:
        """A kubectl of the same version as the API server."""
        return find_tool("kubectl")

    @property
    def pki(self) -> PKIFiles:
        if self._pki is None:
            raise LocalEnvError("control plane not started")
        return self._pki

    def start(self) -> None:
        """Start all three processes; return once the API is ready and controllers run."""
        began = time.monotonic()
        super().start()
        log.info("control plane ready at %s in %.1fs", self.server, time.monotonic() - began)

    def _running(self) -> bool:
        return bool(self._processes)

    def _stop(self) -> None:
        """Stop the processes, newest first."""
        while self._processes:
            self._processes.pop().stop()
        self._api_port = None
        self._pki = None

    def _start(self, workdir: Path, deadline: float) -> None:
        # Resolve every binary before starting anything, to fail fast and clearly.
        etcd_bin = find_tool("etcd")
        apiserver_bin = find_tool("kube-apiserver")
        controller_manager_bin = find_tool("kube-controller-manager")
        scheduler_bin = find_tool("kube-scheduler")
        find_tool("kubectl")

        etcd_data = workdir / "etcd"
        shutil.rmtree(etcd_data, ignore_errors=True)
        pki = self._pki = generate_pki(workdir / "pki")
        etcd_port, peer_port, api_port, scheduler_port = _distinct_free_ports(4)

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = self._launch(
            "etcd",
            [
                etcd_bin,
                f"--data-dir={etcd_data}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                # Test data is disposable; fsync dominates etcd latency.
                "--unsafe-no-fsync",
            ],
        )
        wait_until(
            lambda: _http_ok("127.0.0.1", etcd_port, "/health"),
            deadline=deadline,
            what=f"etcd to become healthy at {etcd_url}",
            processes=self._processes,
            blame=etcd,
        )

        apiserver = self._launch(
            "kube-apiserver",
            [
                apiserver_bin,
                "--advertise-address=127.0.0.1",
                "--bind-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--etcd-servers={etcd_url}",
                # Unused with explicit certificates, but the default
                # (/var/run/kubernetes) may not be writable.
                f"--cert-dir={workdir / 'apiserver'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                "--authorization-mode=Node,RBAC",
                # Added to the default plugins (which include PodSecurity).
                "--enable-admission-plugins=NodeRestriction",
                f"--kubelet-client-certificate={pki.kubelet_client_cert}",
                f"--kubelet-client-key={pki.kubelet_client_key}",
                f"--kubelet-certificate-authority={pki.ca_cert}",
                # A local node's hostname does not resolve; its IP is in its
                # serving certificate.
                "--kubelet-preferred-address-types=InternalIP",
                f"--service-account-key-file={pki.service_account_public_key}",
                f"--service-account-signing-key-file={pki.service_account_private_key}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                # Mutating admission policies (beta, off by default in 1.35) stand in for
                # the mutating webhooks of real clusters (workload identity, sidecars)
                # in the tests of what admission may do to a validation Pod.
                "--feature-gates=MutatingAdmissionPolicy=true",
                "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
            ],
        )
        self._api_port = api_port
        admin_tls = _client_tls(pki.ca_cert, pki.admin_cert, pki.admin_key)
        wait_until(
            lambda: _https_ok(api_port, "/readyz", admin_tls),
            deadline=deadline,
            what=f"kube-apiserver /readyz at {self.server}",
            processes=self._processes,
            blame=apiserver,
        )
        write_kubeconfig(
            self.kubeconfig,
            server=self.server,
            ca_cert=pki.ca_cert,
            client_cert=pki.admin_cert,
            client_key=pki.admin_key,
            user=ADMIN_USER,
        )
        write_kubeconfig(
            self.operator_kubeconfig,
            server=self.server,
            ca_cert=pki.ca_cert,
            client_cert=pki.operator_cert,
            client_key=pki.operator_key,
            user=OPERATOR_USER,
        )
        _create(
            api_port,
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            _KUBELET_CLIENT_BINDING,
            admin_tls,
        )

        controller_manager_kubeconfig = write_kubeconfig(
            workdir / "controller-manager.kubeconfig",
            server=self.server,
            ca_cert=pki.ca_cert,
            client_cert=pki.controller_manager_cert,
            client_key=pki.controller_manager_key,
            user=CONTROLLER_MANAGER_USER,
        )
        controller_manager = self._launch(
            "kube-controller-manager",
            [
                controller_manager_bin,
                f"--kubeconfig={controller_manager_kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                f"--root-ca-file={pki.ca_cert}",
                "--leader-elect=false",
                # Nothing scrapes its metrics or health endpoints here.
                "--secure-port=0",
            ],
        )
        # The `default` ServiceAccount appears only once the controller-manager
        # has synced, so this proves its controllers are running.
        wait_until(
            lambda: _https_ok(api_port, _DEFAULT_SERVICE_ACCOUNT, admin_tls),
            deadline=deadline,
            what="the controller-manager to create ServiceAccount default/default",
            processes=self._processes,
            blame=controller_manager,
        )

        scheduler_kubeconfig = write_kubeconfig(
            workdir / "scheduler.kubeconfig",
            server=self.server,
            ca_cert=pki.ca_cert,
            client_cert=pki.scheduler_cert,
            client_key=pki.scheduler_key,
            user=SCHEDULER_USER,
        )
        scheduler = self._launch(
            "kube-scheduler",
            [
                scheduler_bin,
                f"--kubeconfig={scheduler_kubeconfig}",
                f"--authentication-kubeconfig={scheduler_kubeconfig}",
                f"--authorization-kubeconfig={scheduler_kubeconfig}",
                "--leader-elect=false",
                # Served only for the readiness check below; its certificate
                # is self-signed into cert-dir.
                "--bind-address=127.0.0.1",
                f"--secure-port={scheduler_port}",
                f"--cert-dir={workdir / 'scheduler'}",
            ],
        )
        wait_until(
            lambda: _https_ok(scheduler_port, "/readyz", _unverified_tls()),
            deadline=deadline,
            what="kube-scheduler /readyz",
            processes=self._processes,
            blame=scheduler,
        )

    def _launch(self, name: str, argv: list[str | Path]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.workdir / f"{name}.log")
        self._processes.append(process)
        process.start()
        return process


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _client_tls(ca_cert: Path, client_cert: Path, client_key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_cert))
    context.load_cert_chain(str(client_cert), str(client_key))
    return context


def _unverified_tls() -> ssl.SSLContext:
    # Only for the scheduler's health endpoint on loopback, whose certificate
    # it signs itself.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _create(port: int, path: str, body: object, context: ssl.SSLContext) -> None:
    """POST an object to the API server; one that already exists is fine."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        connection.request(
            "POST", path, json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        detail = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise LocalEnvError(f"cannot create {path}: {error}") from error
    finally:
        connection.close()
    if response.status not in (201, 409):
        raise LocalEnvError(f"cannot create {path}: HTTP {response.status} {detail[:500]!r}")


def _http_ok(host: str, port: int, path: str) -> bool:
    return _status(http.client.HTTPConnection(host, port, timeout=2), path) == 200


def _https_ok(port: int, path: str, context: ssl.SSLContext) -> bool:
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
    return _status(connection, path) == 200


def _status(connection: http.client.HTTPConnection, path: str) -> int | None:
    """The response status, or None while the server does not answer at all."""
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        with contextlib.suppress(OSError):
            connection.close()
