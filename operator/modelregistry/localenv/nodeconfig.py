"""Configuration files of the local node: containerd, CNI and the kubelet.

Pure functions from settings to file contents, so every setting the node
depends on is visible (and tested) in one place. The reasons for the
non-default values are what these machines need (see NODE-FACTS.md): root
without CAP_SYS_RESOURCE, cgroup v1, no swap accounting, no registry, and no
network traffic that leaves the machine.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

CNI_NETWORK_NAME: Final = "modelregistry"


# containerd's own limit on a socket path, and what it appends for its ttrpc socket.
UNIX_SOCKET_MAX = 104
TTRPC_SUFFIX = ".ttrpc"
SHORT_SOCKET_DIR = Path("/run/modelregistry-node")
# The kubelet makes a Unix socket at <work dir>/kubelet/pod-resources/<10 digits>
# (33 bytes more), and Linux caps socket paths at 107 bytes: the work dir must be short.
WORKDIR_MAX = 72


@dataclass(frozen=True)
class NodeLayout:
    """Where the node keeps its state: every path under one work dir."""

    workdir: Path

    @property
    def containerd_root(self) -> Path:
        return self.workdir / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.workdir / "containerd" / "state"

    @property
    def containerd_config(self) -> Path:
        return self.workdir / "containerd" / "config.toml"

    @property
    def containerd_socket(self) -> Path:
        """Under the work dir, unless that path is too long for a Unix socket.

        containerd listens on this path and on it plus ".ttrpc", and refuses
        paths over 104 bytes. A deep work dir then gets a fixed short path:
        one node runs per machine (a lock), so the path is its own.
        """
        own = self.workdir / "containerd" / "containerd.sock"
        if len(str(own)) + len(TTRPC_SUFFIX) <= UNIX_SOCKET_MAX:
            return own
        return SHORT_SOCKET_DIR / "containerd.sock"

    @property
    def runc_root(self) -> Path:
        return self.workdir / "containerd" / "runc"

    @property
    def cni_conf_dir(self) -> Path:
        return self.workdir / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.workdir / "cni" / "networks"

    @property
    def kubelet_root(self) -> Path:
        return self.workdir / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.workdir / "kubelet-config.yaml"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.workdir / "kubelet.kubeconfig"

    @property
    def pod_logs(self) -> Path:
        return self.workdir / "pod-logs"

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"


def containerd_config(
    layout: NodeLayout, *, sandbox_image: str, cni_bin_dir: Path, runc: Path
) -> str:
    """containerd 1.6's config (version 2) with all its state under the work dir."""
    cri = {
        "sandbox_image": sandbox_image,
        # Without CAP_SYS_RESOURCE runc cannot lower a process's
        # oom_score_adj, and every sandbox fails ("can't get final child's PID
        # from pipe: EOF"); this clamps the kubelet's values to containerd's own.
        "restrict_oom_score_adj": True,
        "enable_selinux": False,
        "disable_apparmor": True,
        # Streams for logs/exec: loopback, a free port.
        "stream_server_address": "127.0.0.1",
        "stream_server_port": "0",
        # Pods' network namespaces under the work dir, not /run/netns.
        "netns_mounts_under_state_dir": True,
        "containerd": {
            "snapshotter": "overlayfs",
            "default_runtime_name": "runc",
            "runtimes": {
                "runc": {
                    "runtime_type": "io.containerd.runc.v2",
                    "options": {
                        "BinaryName": str(runc),
                        "Root": str(layout.runc_root),
                        # Matches the kubelet's cgroupDriver.
                        "SystemdCgroup": False,
                    },
                }
            },
        },
        "cni": {
            "bin_dir": str(cni_bin_dir),
            "conf_dir": str(layout.cni_conf_dir),
            "max_conf_num": 1,
        },
    }
    lines = [
        "version = 2",
        f"root = {_toml(str(layout.containerd_root))}",
        f"state = {_toml(str(layout.containerd_state))}",
        # Plugins that cannot work here (no btrfs, zfs, devmapper, aufs)
        # only add noise to the log.
        "disabled_plugins = "
        + _toml(
            [
                "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.zfs",
                "io.containerd.snapshotter.v1.devmapper",
                "io.containerd.snapshotter.v1.aufs",
            ]
        ),
        "",
        "[grpc]",
        f"  address = {_toml(str(layout.containerd_socket))}",
        "",
        "[ttrpc]",
        f"  address = {_toml(str(layout.containerd_socket) + '.ttrpc')}",
        "",
        # Its default is /opt/containerd, a host path.
        '[plugins."io.containerd.internal.v1.opt"]',
        f"  path = {_toml(str(layout.workdir / 'containerd' / 'opt'))}",
        "",
    ]
    lines += _toml_table('plugins."io.containerd.grpc.v1.cri"', cri)
    return "\n".join(lines) + "\n"


def _toml_table(name: str, table: dict[str, Any]) -> list[str]:
    """A nested table in TOML: scalars first, then sub-tables (TOML requires that order)."""
    lines = [f"[{name}]"]
    nested = {key: value for key, value in table.items() if isinstance(value, dict)}
    for key, value in table.items():
        if key not in nested:
            lines.append(f"  {key} = {_toml(value)}")
    for key, value in nested.items():
        lines += ["", *_toml_table(f"{name}.{key}", value)]
    return lines


def _toml(value: object) -> str:
    # JSON strings, numbers, booleans and arrays of them are valid TOML.
    return json.dumps(value)


def bridge_address(subnet: str) -> str:
    """The bridge's (and node's) own address: the first host of the subnet."""
    return str(next(ipaddress.ip_network(subnet).hosts()))


def cni_conflist(*, bridge: str, subnet: str, ipam_dir: Path) -> str:
    """A bridge network with no route out: Pods reach the bridge and each other only.

    The bridge exists (with its address) before the kubelet starts, so it is
    not the gateway the plugin would configure: no default route in Pods, no
    IP forwarding switched on, no masquerading. host-local keeps its leases
    under the work dir instead of /var/lib/cni.
    """
    conflist = {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK_NAME,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": False,
                "isDefaultGateway": False,
                "ipMasq": False,
                "hairpinMode": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": subnet, "gateway": bridge_address(subnet)}]],
                    "routes": [],
                    "dataDir": str(ipam_dir),
                },
            }
        ],
    }
    return json.dumps(conflist, indent=2) + "\n"


@dataclass(frozen=True)
class KubeletSettings:
    """What varies between local nodes; everything else is fixed below."""

    node_ip: str
    port: int
    healthz_port: int
    cgroup_root: str
    client_ca: Path
    serving_cert: Path
    serving_key: Path


def kubelet_config(layout: NodeLayout, settings: KubeletSettings) -> str:
    """The KubeletConfiguration file (kubelet.config.k8s.io/v1beta1)."""
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        # cgroup v1 is deprecated and refused by default; these machines have only v1.
        "failCgroupV1": False,
        # containerd runs runc with cgroupfs too, and there is no systemd here.
        "cgroupDriver": "cgroupfs",
        # Pods' cgroups under one root of their own, removed on stop.
        "cgroupRoot": settings.cgroup_root,
        "failSwapOn": False,
        "address": settings.node_ip,
        "port": settings.port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": settings.healthz_port,
        "tlsCertFile": str(settings.serving_cert),
        "tlsPrivateKeyFile": str(settings.serving_key),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(settings.client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "podLogsDir": str(layout.pod_logs),
        # Its default is a host path under /usr/libexec.
        "volumePluginDir": str(layout.kubelet_root / "volume-plugins"),
        # No static Pods: staticPodPath stays unset.
        "clusterDomain": "cluster.local",
        "resolvConf": "/etc/resolv.conf",
        # No iptables chains of the kubelet's own on the host (nothing here
        # needs KUBE-FIREWALL or the hint chain).
        "makeIPTablesUtilChains": False,
        # Without CAP_SYS_RESOURCE the kubelet cannot lower its own score.
        "oomScoreAdj": 0,
        "systemReserved": {},
        "kubeReserved": {},
        "enforceNodeAllocatable": ["pods"],
        # A shared build machine's disk is busy with other things: evict
        # only when it is truly full, and never collect the local images
        # (they cannot be pulled again).
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
            "imagefs.inodesFree": "1%",
        },
        "mergeDefaultEvictionSettings": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        # Quicker status for tests; the defaults suit hundreds of nodes.
        "nodeStatusUpdateFrequency": "2s",
        "syncFrequency": "10s",
        "registerNode": True,
    }
    return yaml.safe_dump(config, sort_keys=False)


def kubelet_argv(kubelet: Path, layout: NodeLayout, *, node_name: str, node_ip: str) -> list[str]:
    """The command line: what the config file cannot hold."""
    return [
        str(kubelet),
        f"--config={layout.kubelet_config}",
        f"--kubeconfig={layout.kubelet_kubeconfig}",
        f"--root-dir={layout.kubelet_root}",
        f"--cert-dir={layout.kubelet_root / 'pki'}",
        f"--hostname-override={node_name}",
        f"--node-ip={node_ip}",
    ]
