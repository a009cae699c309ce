"""A real Kubernetes node on this machine: containerd + runc + CNI bridge + kubelet.

The kubelet is built from the same Kubernetes module and version as the
control plane's API server (`hack/build-tools.sh`); containerd, runc and the
CNI plugins come from Debian. All state lives under the work dir, but a node
also touches the host: a bridge, cgroups, a few fixed paths the kubelet and
containerd use whatever they are told (/var/lib/kubelet/device-plugins,
/var/log/containers, /var/lib/cni, /run/containerd), and kernel settings the
kubelet insists on (vm.overcommit_memory, kernel.panic, ...). `stop()` undoes
all of it. What a node changed on the host is also written to a state file
before it is changed, so the next start cleans up after a run that was killed.

Only one node runs per machine (a lock file), because the kubelet's host
paths and kernel settings are machine-wide.

Pods reach the host only at the node IP (the bridge's address), never its
127.0.0.1, where the local servers listen. `forward()` makes such a server
reachable from Pods through a forwarder on the node IP; the node forwards the
API server itself to node_ip:443, so in-cluster clients (the chart's operator)
reach it there. There is no kube-proxy and no cluster DNS: such a Pod gets
KUBERNETES_SERVICE_HOST/PORT set to `api_server_host`/`api_server_port` and a
host alias for `kubernetes.default.svc`, names the API server's certificate
already carries (see `in_cluster_api_overrides`).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import http.client
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from modelregistry.localenv.controlplane import ControlPlane
from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.forward import Forwarder
from modelregistry.localenv.images import PAUSE_IMAGE, pause_archive
from modelregistry.localenv.kubeconfig import write_kubeconfig
from modelregistry.localenv.nodeconfig import (
    CNI_NETWORK_NAME,
    SHORT_SOCKET_DIR,
    WORKDIR_MAX,
    KubeletSettings,
    NodeLayout,
    bridge_address,
    cni_conflist,
    containerd_config,
    kubelet_argv,
    kubelet_config,
)
from modelregistry.localenv.pki import generate_node_certificates
from modelregistry.localenv.process import ManagedProcess, free_port, wait_until
from modelregistry.localenv.service import LocalService
from modelregistry.localenv.tools import find_tool

log = logging.getLogger(__name__)

DEFAULT_NODE_NAME: Final = "modelregistry-node"
# Private, and clear of the service range (10.0.0.0/24) and of the usual
# container and cloud ranges; `start()` refuses it if a host route overlaps.
DEFAULT_SUBNET: Final = "10.213.0.0/24"
DEFAULT_BRIDGE: Final = "mr-cni0"
CGROUP_ROOT: Final = "/modelregistry-node"
LOCK_FILE: Final = Path("/run/lock/modelregistry-node.lock")
STATE_FILE: Final = Path("/run/lock/modelregistry-node.json")
# Paths the kubelet, containerd and the CNI library create whatever they are told.
HOST_PATHS: Final = (
    "/var/lib/kubelet/device-plugins",
    "/var/log/containers",
    "/var/lib/cni",
    "/run/containerd",
    "/run/netns",
    str(SHORT_SOCKET_DIR),  # containerd's socket, when the work dir is deep
)
# What the kubelet sets when it starts (pkg/kubelet/cm: setupKernelTunables).
KUBELET_SYSCTLS: Final = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
CNI_PLUGINS: Final = ("bridge", "host-local", "loopback")
CNI_BIN_DIRS: Final = (Path("/usr/lib/cni"), Path("/opt/cni/bin"))
# The kubelet refuses to start without these cgroup v1 controllers.
CGROUP_V1_CONTROLLERS: Final = ("cpu", "cpuacct", "cpuset", "memory")
_INSTALL: Final = "apt-get install containerd runc containernetworking-plugins iptables"
# Where Pods reach the API server: the port of the `kubernetes` Service, and
# the Service's DNS name, which Kopf's in-cluster login uses whatever
# KUBERNETES_SERVICE_HOST says (and which the serving certificate names).
API_SERVICE_PORT: Final = 443
API_SERVICE_NAME: Final = "kubernetes.default.svc"
_MNT_DETACH: Final = 2


@dataclass
class HostState:
    """What a node changes outside its work dir, recorded before changing it."""

    pid: int
    workdir: str
    bridge: str
    containerd_socket: str
    cgroup_root: str
    sysctls: dict[str, str] = field(default_factory=dict)
    # The top-most paths that did not exist before: removed whole.
    created_paths: list[str] = field(default_factory=list)


class Node(LocalService):
    """containerd + kubelet joined to a `ControlPlane`; `start()` returns once the Node is Ready.

    `workdir` holds containerd's root and state, the kubelet's root dir, CNI
    configuration and leases, certificates and logs; without one a temporary
    directory is used and `stop()` removes it; a given one is kept (with its
    logs). Each `start()` begins with no containers and no images but the
    pause image. Needs root.

    Pods get an address on `subnet`, on a bridge whose own address
    (`node_ip`) is the node's InternalIP: Pods reach the node there and
    nothing else (no default route, no masquerading). Images cannot be
    pulled: load them with `import_image()` and use `imagePullPolicy: Never`.
    """

    name = "node"

    def __init__(
        self,
        control_plane: ControlPlane,
        workdir: Path | None = None,
        *,
        node_name: str = DEFAULT_NODE_NAME,
        subnet: str = DEFAULT_SUBNET,
        bridge: str = DEFAULT_BRIDGE,
        kubelet_port: int | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        super().__init__(workdir, prefix="modelregistry-node-", start_timeout=start_timeout)
        self._control_plane = control_plane
        self._node_name = node_name
        self._subnet = str(ipaddress.ip_network(subnet))
        self._bridge = bridge
        self._kubelet_port = kubelet_port
        self._processes: list[ManagedProcess] = []
        self._lock: IO[str] | None = None
        self._state: HostState | None = None
        self._ready_after: float | None = None
        self._forwarders: list[Forwarder] = []

    @property
    def node_name(self) -> str:
        return self._node_name

    @property
    def node_ip(self) -> str:
        """The node's InternalIP: the bridge's address, which Pods can reach."""
        return bridge_address(self._subnet)

    @property
    def subnet(self) -> str:
        return self._subnet

    @property
    def bridge(self) -> str:
        return self._bridge

    @property
    def containerd_socket(self) -> Path:
        return NodeLayout(self.workdir).containerd_socket

    @property
    def kubelet_log(self) -> Path:
        return self.workdir / "kubelet.log"

    @property
    def containerd_log(self) -> Path:
        return self.workdir / "containerd.log"

    def start(self) -> None:
        """Start containerd and the kubelet; return once the Node is Ready."""
        began = time.monotonic()
        super().start()
        self._ready_after = time.monotonic() - began
        log.info("node %s Ready in %.1fs", self._node_name, self._ready_after)

    @property
    def ready_after(self) -> float | None:
        """Seconds the last `start()` took, from its call until the Node was Ready."""
        return self._ready_after

    @property
    def api_server_host(self) -> str:
        """The name under which Pods reach the API server (resolve it with `hostAliases`)."""
        return API_SERVICE_NAME

    @property
    def api_server_port(self) -> int:
        """The port on the node IP where Pods reach the API server."""
        return API_SERVICE_PORT

    def in_cluster_api_overrides(self) -> tuple[dict[str, str], list[dict[str, object]]]:
        """(container env, Pod hostAliases) by which a Pod's clients reach the API server here.

        On a cluster with kube-proxy and cluster DNS a Pod needs neither: the
        kubelet's KUBERNETES_SERVICE_HOST/PORT and `kubernetes.default.svc`
        lead to the `kubernetes` Service.
        """
        env = {
            "KUBERNETES_SERVICE_HOST": self.api_server_host,
            "KUBERNETES_SERVICE_PORT": str(self.api_server_port),
        }
        return env, [{"ip": self.node_ip, "hostnames": [self.api_server_host]}]

    def forward(self, port: int, *, name: str, node_port: int = 0) -> Forwarder:
        """Make what listens on 127.0.0.1:`port` reachable from Pods at node_ip:<its port>.

        `node_port` 0 takes any free port; the returned forwarder's `port` says
        which. Only the Pods' subnet may connect. The forwarder stops with the
        node, or earlier with its own `stop()`.
        """
        if self._state is None:
            raise LocalEnvError("node not started")
        taken = {f.process.name for f in self._forwarders}
        label = next(
            f"forward-{name}{suffix}"
            for suffix in ("", *(f"-{n}" for n in range(2, len(taken) + 2)))
            if f"forward-{name}{suffix}" not in taken
        )
        forwarder = Forwarder(
            self.node_ip,
            port,
            self.workdir / f"{label}.log",
            listen_port=node_port,
            allow=(self._subnet,),
            name=label,
        )
        self._forwarders.append(forwarder)
        forwarder.start()
        return forwarder

    def import_image(self, archive: Path) -> list[str]:
        """Load an OCI or docker image archive into the node's runtime; return the image names.

        Kubernetes' images live in containerd's `k8s.io` namespace; Pods then
        use them with `imagePullPolicy: Never` (or IfNotPresent).
        """
        if not self._processes:
            raise LocalEnvError("node not started")
        output = self._ctr("images", "import", str(archive))
        return re.findall(r"^unpacking (\S+) \(", output, flags=re.MULTILINE)

    def tag_image(self, source: str, target: str) -> str:
        """Give an imported image a second name, e.g. `repo@sha256:...`, as a pull would.

        The kubelet resolves an image named by digest only by such a name: an
        import records the archive's names alone.
        """
        if not self._processes:
            raise LocalEnvError("node not started")
        self._ctr("images", "tag", "--force", source, target)
        return target

    def _ctr(self, *args: str) -> str:
        ctr = _which("ctr")
        if ctr is None:
            raise LocalEnvError(f"ctr not found (it comes with containerd): {_INSTALL}")
        try:
            result = subprocess.run(
                [ctr, "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
        except subprocess.TimeoutExpired as error:
            raise LocalEnvError(f"ctr {' '.join(args)} timed out after 300s") from error
        if result.returncode != 0:
            raise LocalEnvError(f"ctr {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    # --- lifecycle -----------------------------------------------------------

    def _running(self) -> bool:
        return self._state is not None or bool(self._processes)

    def _start(self, workdir: Path, deadline: float) -> None:
        layout = NodeLayout(workdir)
        # Raises at once if the control plane is not running.
        plane_pki, server = self._control_plane.pki, self._control_plane.server
        binaries = find_node_binaries()
        _preflight_host(layout, self._subnet, self._bridge)
        kubelet_port = self._kubelet_port or free_port()
        healthz_port = free_port()
        for port, what in ((kubelet_port, "kubelet"), (healthz_port, "kubelet healthz")):
            _check_port_free(port, what)
        self._lock = _acquire_lock(deadline)
        _cleanup_leftovers_locked()
        # Fixed, so taken by any other node: checked once that one has stopped.
        _check_port_free(API_SERVICE_PORT, "in-cluster API server")
        _check_bridge_absent(self._bridge)
        _check_routes(self._subnet, self._bridge)

        state = self._state = HostState(
            pid=os.getpid(),
            workdir=str(workdir),
            bridge=self._bridge,
            containerd_socket=str(layout.containerd_socket),
            cgroup_root=CGROUP_ROOT,
            sysctls=_read_sysctls(KUBELET_SYSCTLS),
            created_paths=[str(p) for p in _missing_roots(HOST_PATHS)],
        )
        _save_state(state)

        _reset_workdir(layout)
        _create_bridge(self._bridge, self._subnet)
        _create_cgroup_root(CGROUP_ROOT)
        api_port = int(server.rsplit(":", 1)[1])
        self.forward(api_port, name="apiserver", node_port=API_SERVICE_PORT)

        layout.containerd_config.write_text(
            containerd_config(
                layout,
                sandbox_image=PAUSE_IMAGE,
                cni_bin_dir=binaries.cni_bin_dir,
                runc=binaries.runc,
            )
        )
        layout.cni_conf_dir.joinpath("10-modelregistry.conflist").write_text(
            cni_conflist(bridge=self._bridge, subnet=self._subnet, ipam_dir=layout.cni_ipam_dir)
        )
        containerd = self._launch(
            "containerd", [binaries.containerd, f"--config={layout.containerd_config}"]
        )
        wait_until(
            lambda: _unix_socket_answers(layout.containerd_socket),
            deadline=deadline,
            what=f"containerd to listen on {layout.containerd_socket}",
            processes=self._processes,
            blame=containerd,
        )
        self.import_image(pause_archive())

        certificates = generate_node_certificates(
            plane_pki, self._node_name, (self.node_ip,), layout.pki
        )
        write_kubeconfig(
            layout.kubelet_kubeconfig,
            server=server,
            ca_cert=plane_pki.ca_cert,
            client_cert=certificates.client_cert,
            client_key=certificates.client_key,
            user=f"system:node:{self._node_name}",
        )
        layout.kubelet_config.write_text(
            kubelet_config(
                layout,
                KubeletSettings(
                    node_ip=self.node_ip,
                    port=kubelet_port,
                    healthz_port=healthz_port,
                    cgroup_root=CGROUP_ROOT,
                    client_ca=plane_pki.ca_cert,
                    serving_cert=certificates.serving_cert,
                    serving_key=certificates.serving_key,
                ),
            )
        )
        kubelet = self._launch(
            "kubelet",
            kubelet_argv(binaries.kubelet, layout, node_name=self._node_name, node_ip=self.node_ip),
        )
        api = _ApiReader(self._control_plane)
        try:
            wait_until(
                lambda: api.node_ready(self._node_name),
                deadline=deadline,
                what=f"Node {self._node_name} to become Ready and untainted",
                processes=self._processes,
                blame=kubelet,
                interval=0.2,
            )
        except LocalEnvError as error:
            raise LocalEnvError(_explain(error, kubelet, containerd)) from error

    def _launch(self, name: str, argv: Sequence[str | Path]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.workdir / f"{name}.log")
        self._processes.append(process)
        process.start()
        return process

    def _stop(self) -> None:
        # Pods keep no connection open once the forwarders are gone.
        while self._forwarders:
            self._forwarders.pop().stop()
        try:
            if self._state is not None:
                _cleanup(self._state, self._processes)
                STATE_FILE.unlink(missing_ok=True)
        finally:
            self._processes.clear()
            self._state = None
            if self._lock is not None:
                self._lock.close()  # releases the flock
                self._lock = None


# --- preflight ---------------------------------------------------------------


@dataclass(frozen=True)
class NodeBinaries:
    kubelet: Path
    containerd: Path
    runc: Path
    cni_bin_dir: Path


def _which(name: str) -> str | None:
    # Debian puts runc in /usr/sbin, which a non-login PATH may lack.
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    return shutil.which(name, path=path)


def find_node_binaries() -> NodeBinaries:
    """The node's programs, or one error naming every missing one and the install command."""
    kubelet = find_tool("kubelet")
    missing = [name for name in ("containerd", "runc", "ctr") if _which(name) is None]
    cni_dir = next((d for d in CNI_BIN_DIRS if all((d / p).is_file() for p in CNI_PLUGINS)), None)
    if cni_dir is None:
        missing.append(f"CNI plugins {', '.join(CNI_PLUGINS)} (in /usr/lib/cni)")
    if _which("ip") is None:
        missing.append("ip (apt-get install iproute2)")
    if missing:
        raise LocalEnvError(f"the node needs {'; '.join(missing)}: {_INSTALL}")
    containerd, runc = _which("containerd"), _which("runc")
    assert containerd is not None and runc is not None and cni_dir is not None
    return NodeBinaries(kubelet, Path(containerd), Path(runc), cni_dir)


def _preflight_host(layout: NodeLayout, subnet: str, bridge: str) -> None:
    if os.geteuid() != 0:
        raise LocalEnvError(
            "the node needs root (containerd, runc and the kubelet manage mounts, "
            "cgroups and network namespaces): run as root"
        )
    if len(str(layout.workdir)) > WORKDIR_MAX:
        raise LocalEnvError(
            f"the node's work dir {layout.workdir} is {len(str(layout.workdir))} bytes long; the "
            f"kubelet's sockets under it need it at most {WORKDIR_MAX}: give a shorter work dir "
            "(or none, for a temporary one)"
        )
    if len(bridge) > 15:
        raise LocalEnvError(f"bridge name {bridge!r} is longer than Linux's 15 characters")
    network = ipaddress.ip_network(subnet)
    if network.version != 4 or not network.is_private or network.num_addresses < 8:
        raise LocalEnvError(f"subnet {subnet} must be a private IPv4 network of /29 or larger")
    fstype = _filesystem_type(layout.workdir)
    if fstype in ("overlay", "tmpfs"):
        raise LocalEnvError(
            f"work dir {layout.workdir} is on {fstype}: containerd's overlayfs snapshotter "
            "needs a disk filesystem (ext4, xfs) for its layers; choose a work dir there"
        )
    problem = cgroup_problem(_read_mounts())
    if problem is not None:
        raise LocalEnvError(problem)


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    options: frozenset[str]


def _read_mounts() -> list[Mount]:
    mounts: list[Mount] = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 6 or len(tail) < 3:
            continue
        point = fields[4].encode().decode("unicode_escape")
        options = frozenset(fields[5].split(",")) | frozenset(tail[2].split(","))
        mounts.append(Mount(point, tail[0], options))
    return mounts


def cgroup_problem(mounts: Iterable[Mount]) -> str | None:
    """Why the kubelet would refuse this host's cgroups, with the fix; None if it would not."""
    mounts = list(mounts)
    if any(m.point == "/sys/fs/cgroup" and m.fstype == "cgroup2" for m in mounts):
        return None  # cgroup v2: the kubelet's default and preferred mode
    mounted = {opt for m in mounts if m.fstype == "cgroup" for opt in m.options}
    absent = [c for c in CGROUP_V1_CONTROLLERS if c not in mounted]
    if absent:
        return (
            f"cgroup v1 controllers {', '.join(absent)} are not mounted; the kubelet needs "
            f"{', '.join(CGROUP_V1_CONTROLLERS)}: mount them under /sys/fs/cgroup "
            "(or boot with cgroup v2: systemd.unified_cgroup_hierarchy=1)"
        )
    read_only = sorted(
        c
        for c in CGROUP_V1_CONTROLLERS
        for m in mounts
        if m.fstype == "cgroup" and c in m.options and "ro" in m.options
    )
    if read_only:
        return (
            f"cgroup controllers {', '.join(read_only)} are mounted read-only, so the kubelet "
            "cannot create Pod cgroups: run on a host (or privileged container) where "
            "/sys/fs/cgroup is writable"
        )
    return None


def _filesystem_type(path: Path) -> str:
    best = Mount("/", "", frozenset())
    resolved = str(path.resolve())
    for mount in _read_mounts():
        inside = resolved == mount.point or resolved.startswith(mount.point.rstrip("/") + "/")
        if inside and len(mount.point) >= len(best.point):
            best = mount
    return best.fstype


def _check_bridge_absent(bridge: str) -> None:
    if Path("/sys/class/net", bridge).exists():
        raise LocalEnvError(
            f"network interface {bridge} already exists (left by a run that was not stopped?): "
            f"delete it with `ip link delete {bridge}`, or give the node another bridge name"
        )


def host_routes() -> list[tuple[str, str]]:
    """(interface, destination network) of the host's IPv4 routes, from /proc/net/route."""
    routes: list[tuple[str, str]] = []
    for line in Path("/proc/net/route").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        destination = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
        mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
        routes.append((fields[0], str(ipaddress.IPv4Network(f"{destination}/{mask}"))))
    return routes


def overlapping_routes(subnet: str, routes: Iterable[tuple[str, str]], bridge: str) -> list[str]:
    """Routes that would collide with the node's subnet (the default route does not)."""
    network = ipaddress.ip_network(subnet)
    return [
        f"{destination} dev {interface}"
        for interface, destination in routes
        if interface != bridge
        and ipaddress.ip_network(destination).prefixlen > 0
        and ipaddress.ip_network(destination).overlaps(network)
    ]


def _check_routes(subnet: str, bridge: str) -> None:
    if clashes := overlapping_routes(subnet, host_routes(), bridge):
        raise LocalEnvError(
            f"the node's Pod subnet {subnet} overlaps the host's routes ({'; '.join(clashes)}): "
            "give the node another private subnet (Node(subnet=...))"
        )


def _check_port_free(port: int, what: str) -> None:
    """Fail if anything holds the port on any address (the kubelet binds the node IP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: connections of a server that stopped a moment
        # ago (TIME_WAIT) do not hold its port, only a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # Bound and closed at once, never listening: the wildcard address
            # conflicts with a listener on any one address.
            probe.bind(("0.0.0.0", port))  # noqa: S104
        except OSError as error:
            raise LocalEnvError(
                f"{what} port {port} is in use ({error.strerror}): stop what listens there "
                f"(`ss -ltnp 'sport = :{port}'`) or give the node another port"
            ) from error


def _acquire_lock(deadline: float) -> IO[str]:
    """One node per machine: its host paths, cgroups and kernel settings are machine-wide."""
    holder = _state_pid()
    if holder == os.getpid():
        raise LocalEnvError(
            "a local node is already running in this process: stop it before starting another"
        )
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    handle = LOCK_FILE.open("a+")
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise LocalEnvError(
                    f"another local node is running on this machine (pid {holder}, holding "
                    f"{LOCK_FILE}; see {STATE_FILE}): only one can run at a time, stop it first"
                ) from None
            time.sleep(0.5)


# --- host changes and their undoing -------------------------------------------


def _reset_workdir(layout: NodeLayout) -> None:
    """Start from empty state: no containers, images, Pod directories or leases of a last run."""
    _unmount_under(layout.workdir)
    for stale in (
        layout.workdir / "containerd",
        layout.workdir / "cni",
        layout.kubelet_root,
        layout.pod_logs,
        layout.pki,
    ):
        shutil.rmtree(stale, ignore_errors=True)
    for directory in (layout.workdir / "containerd", layout.cni_conf_dir, layout.pki):
        directory.mkdir(parents=True)


def _unix_socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LocalEnvError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def _create_bridge(bridge: str, subnet: str) -> None:
    # Made here, with its address, so that the node's IP exists before the
    # kubelet starts; the CNI bridge plugin then only attaches Pods to it.
    prefix = ipaddress.ip_network(subnet).prefixlen
    _ip("link", "add", bridge, "type", "bridge")
    _ip("addr", "add", f"{bridge_address(subnet)}/{prefix}", "dev", bridge)
    _ip("link", "set", bridge, "up")


def _cgroup_hierarchies() -> list[Path]:
    return [
        Path(m.point)
        for m in _read_mounts()
        if m.fstype in ("cgroup", "cgroup2") and m.point.startswith("/sys/fs/cgroup")
    ]


def _create_cgroup_root(cgroup_root: str) -> None:
    # The kubelet requires its cgroupRoot to exist in every hierarchy.
    for hierarchy in _cgroup_hierarchies():
        path = hierarchy / cgroup_root.lstrip("/")
        path.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            # A new cpuset v1 cgroup starts empty, and no task can join it.
            if (hierarchy / name).is_file() and not path.joinpath(name).read_text().strip():
                path.joinpath(name).write_text((hierarchy / name).read_text())


def _read_sysctls(names: Iterable[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in names:
        with contextlib.suppress(OSError):
            values[name] = Path("/proc/sys", name).read_text().strip()
    return values


def _missing_roots(paths: Iterable[str]) -> list[Path]:
    """For each path, its top-most ancestor that does not exist yet (if any)."""
    roots: list[Path] = []
    for raw in paths:
        path = Path(raw).resolve()
        if path.exists():
            continue
        while not path.parent.exists():
            path = path.parent
        if path not in roots:
            roots.append(path)
    return roots


def _state_pid() -> int | None:
    try:
        pid = json.loads(STATE_FILE.read_text())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if isinstance(pid, int) else None


def _save_state(state: HostState) -> None:
    STATE_FILE.write_text(json.dumps(asdict(state), indent=2))


def cleanup_leftovers() -> bool:
    """Undo what a killed node left on the host (processes, mounts, cgroups, bridge, paths).

    `Node.start()` does this by itself; this is for a clean machine without
    starting a node (e.g. `make clean`). Returns whether there was anything to
    undo. Fails if a node is running.
    """
    handle = _acquire_lock(deadline=0.0)
    try:
        return _cleanup_leftovers_locked()
    finally:
        handle.close()


def _cleanup_leftovers_locked() -> bool:
    if not STATE_FILE.exists():
        return False
    try:
        state = HostState(**json.loads(STATE_FILE.read_text()))
    except (OSError, ValueError, TypeError):
        STATE_FILE.unlink(missing_ok=True)
        return False
    log.warning("cleaning up after a node that was not stopped (pid %s)", state.pid)
    _cleanup(state, [])
    STATE_FILE.unlink(missing_ok=True)
    return True


def _cleanup(state: HostState, processes: list[ManagedProcess]) -> None:
    """Undo everything a node did to the host, in an order that cannot get stuck.

    Every step runs even when an earlier one fails; failures are reported together.
    """
    problems: list[str] = []

    def step(what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as error:  # report and go on
            problems.append(f"{what}: {error}")

    kubelets = [p for p in processes if p.name == "kubelet"]
    others = [p for p in processes if p.name != "kubelet"]
    for process in kubelets:
        step("stop kubelet", process.stop)
    # Pods' processes first, then their shims: containerd must not restart them.
    step("kill Pod processes", lambda: _kill_cgroup_processes(state.cgroup_root))
    step("kill shims", lambda: _kill_shims(state.containerd_socket))
    for process in others:
        step(f"stop {process.name}", process.stop)
    step("unmount", lambda: _unmount_under(Path(state.workdir)))
    step("remove cgroups", lambda: _remove_cgroup_root(state.cgroup_root))
    step("delete bridge", lambda: _delete_link(state.bridge))
    for path in state.created_paths:
        step(f"remove {path}", functools.partial(_remove_path, Path(path)))
    step(
        "remove container log links",
        lambda: _remove_links_into(Path("/var/log/containers"), state.workdir),
    )
    step("remove CNI results", _remove_cni_results)
    step("restore kernel settings", lambda: _write_sysctls(state.sysctls))
    if problems:
        raise LocalEnvError("the node did not clean up fully:\n" + "\n".join(problems))


def _walk_cgroups(cgroup_root: str) -> Iterator[Path]:
    """Every cgroup directory under the node's root, deepest first."""
    for hierarchy in _cgroup_hierarchies():
        top = hierarchy / cgroup_root.lstrip("/")
        if top.is_dir():
            for directory, _, _ in os.walk(top, topdown=False):
                yield Path(directory)


def _kill_cgroup_processes(cgroup_root: str) -> None:
    for _ in range(50):
        pids = set()
        for cgroup in _walk_cgroups(cgroup_root):
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in cgroup.joinpath("cgroup.procs").read_text().split()}
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    raise LocalEnvError(f"processes in cgroup {cgroup_root} did not exit")


def _kill_shims(containerd_socket: str) -> None:
    """SIGKILL the runc shims this node's containerd started (they outlive containerd)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = proc.joinpath("cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"containerd-shim" in argv[0] and containerd_socket.encode() in argv:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


def _unmount_under(workdir: Path) -> None:
    """Detach every mount under the work dir: Pod volumes, rootfs overlays, netns, shm."""
    libc = ctypes.CDLL(None, use_errno=True)
    prefix = str(workdir.resolve()).rstrip("/") + "/"
    points = sorted(
        {m.point for m in _read_mounts() if m.point.startswith(prefix)}, key=len, reverse=True
    )
    failed = []
    for point in points:
        if libc.umount2(point.encode(), _MNT_DETACH) != 0:
            errno = ctypes.get_errno()
            if errno not in (22, 2):  # EINVAL: not a mount (any more); ENOENT: gone
                failed.append(f"{point}: {os.strerror(errno)}")
    if failed:
        raise LocalEnvError("cannot unmount " + "; ".join(failed))


def _remove_cgroup_root(cgroup_root: str) -> None:
    leftover: list[str] = []
    for _ in range(20):
        leftover = []
        for cgroup in _walk_cgroups(cgroup_root):
            try:
                cgroup.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                leftover.append(str(cgroup))
        if not leftover:
            return
        time.sleep(0.1)  # a killed process leaves its cgroup a moment later
    raise LocalEnvError(f"cgroups still busy: {', '.join(leftover)}")


def _delete_link(name: str) -> None:
    if Path("/sys/class/net", name).exists():
        _ip("link", "delete", name)


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _remove_links_into(directory: Path, workdir: str) -> None:
    # /var/log/containers may have existed before: only our links go.
    if directory.is_dir():
        for link in directory.iterdir():
            if link.is_symlink() and str(link.readlink()).startswith(workdir):
                link.unlink()


def _remove_cni_results() -> None:
    # The CNI library caches each attachment's result under /var/lib/cni.
    results = Path("/var/lib/cni/results")
    if results.is_dir():
        for entry in results.glob(f"{CNI_NETWORK_NAME}-*"):
            entry.unlink(missing_ok=True)


def _write_sysctls(values: dict[str, str]) -> None:
    for name, value in values.items():
        path = Path("/proc/sys", name)
        if path.read_text().strip() != value:
            path.write_text(value)


# --- talking to the API server and explaining failures --------------------------


class _ApiReader:
    """Reads the Node through the admin client certificate (no client library needed)."""

    def __init__(self, plane: ControlPlane) -> None:
        self._port = int(plane.server.rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=str(plane.pki.ca_cert))
        context.load_cert_chain(str(plane.pki.admin_cert), str(plane.pki.admin_key))
        self._context = context

    def node_ready(self, name: str) -> bool:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self._port, timeout=5, context=self._context
        )
        try:
            connection.request("GET", f"/api/v1/nodes/{name}")
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        if response.status != 200:
            return False
        return node_schedulable(json.loads(body))


def node_schedulable(node: dict[str, Any]) -> bool:
    """Ready, and without the taints that keep Pods off a node that is not (yet) ready."""
    conditions = node.get("status", {}).get("conditions", [])
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    taints = node.get("spec", {}).get("taints") or []
    return ready and not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)


# (pattern in a log, cause and fix): the failures seen or expected on build machines.
KNOWN_FAILURES: Final[tuple[tuple[str, str], ...]] = (
    (
        "kubelet is configured to not run on a host using cgroup v1",
        "this host has cgroup v1 and the kubelet refuses it by default: "
        "set failCgroupV1: false in the KubeletConfiguration",
    ),
    (
        "Following Cgroup subsystem not mounted",
        "the kubelet needs the cpu, cpuacct, cpuset and memory cgroup controllers: "
        "mount them under /sys/fs/cgroup (or boot with cgroup v2)",
    ),
    (
        "running with swap on is not supported",
        "swap is on: set failSwapOn: false (or swapoff -a)",
    ),
    (
        "address already in use",
        "a port the node needs is taken: stop the other process or choose another port",
    ),
    (
        "can't get final child's PID from pipe",
        "runc cannot set a container's oom_score_adj without CAP_SYS_RESOURCE: "
        "set restrict_oom_score_adj = true in containerd's CRI config",
    ),
    (
        "failed to mount overlay",
        "containerd's overlayfs snapshotter cannot mount on the work dir's filesystem: "
        "use a work dir on ext4 or xfs",
    ),
    (
        "no such file or directory: unknown service runtime.v1",
        "containerd's CRI plugin did not load: see containerd.log",
    ),
)


def diagnose(log_text: str) -> str | None:
    """The cause and fix of a known failure found in a log, or None."""
    lowered = log_text.lower()
    for pattern, explanation in KNOWN_FAILURES:
        if pattern.lower() in lowered:
            return explanation
    return None


def _explain(error: LocalEnvError, *processes: ManagedProcess) -> str:
    for process in processes:
        if (cause := diagnose(process.log_tail(200))) is not None:
            return f"{cause}\n(from {process.log_path})\n{error}"
    return str(error)
